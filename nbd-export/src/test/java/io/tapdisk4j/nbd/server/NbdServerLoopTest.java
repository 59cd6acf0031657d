package io.tapdisk4j.nbd.server;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.block.local.MemoryDevice;
import org.junit.jupiter.api.Test;

import java.io.DataInputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static io.tapdisk4j.nbd.NbdProtocol.IHAVEOPT;
import static io.tapdisk4j.nbd.NbdProtocol.NBDMAGIC;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * Every connection of a server runs on the server's one event loop (a multi-conn client's connections to
 * an export share a thread), and servers built on one group take different loops of it.
 */
class NbdServerLoopTest {

    @Test
    void connectionsOfOneServerShareItsLoopAndServersSpreadOverTheGroup() throws Exception {
        EventLoopGroup group = EventLoops.newGroup("nbd-loop-test", 2);
        MemoryDevice a = new MemoryDevice("a", 1 << 20);
        MemoryDevice b = new MemoryDevice("b", 1 << 20);
        List<Socket> clients = new ArrayList<>();
        try (NbdServer first = NbdServer.builder().group(group).export(new NbdExport("a", null, a, false))
                .bindTcp("127.0.0.1", 0);
             NbdServer second = NbdServer.builder().group(group).export(new NbdExport("b", null, b, false))
                     .bindTcp("127.0.0.1", 0)) {
            for (NbdServer s : List.of(first, second)) {
                for (int i = 0; i < 4; i++) {
                    clients.add(greeted(s.port()));
                }
            }
            Set<EventLoop> firstLoops = first.connectionLoops();
            Set<EventLoop> secondLoops = second.connectionLoops();
            assertEquals(Set.of(first.loop()), firstLoops, "the first server's 4 connections");
            assertEquals(Set.of(second.loop()), secondLoops, "the second server's 4 connections");
            assertNotEquals(first.loop(), second.loop(), "two servers on a group of two loops");
        } finally {
            for (Socket c : clients) {
                c.close();
            }
            a.close();
            b.close();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** A connection that has read the server's greeting: by then the server has registered it. */
    private static Socket greeted(int port) throws Exception {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.setSoTimeout(10_000);
        DataInputStream in = new DataInputStream(s.getInputStream());
        assertEquals(NBDMAGIC, in.readLong());
        assertEquals(IHAVEOPT, in.readLong());
        in.readUnsignedShort(); // handshake flags
        return s;
    }
}
