package io.tapdisk4j.ring.xenstore;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The client against a xenstored that stalls, lies or dies mid-request. */
class XsClientHostileServerTest {

    @TempDir
    Path dir;

    @Test
    void aStalledXenstoredTimesOutTheCall() throws Exception {
        Path sock = dir.resolve("stall.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            try (XsClient c = XsClient.connect(sock, Duration.ofMillis(300));
                 SocketChannel peer = server.accept()) {
                XsConnectionException e = assertThrows(XsConnectionException.class, () -> c.read("/x"));
                assertTrue(e.getMessage().contains("did not answer READ"), e.getMessage());
                assertTrue(peer.isOpen());
            }
        }
    }

    @Test
    void anOversizedAnswerDropsTheConnectionFailsThePendingCallAndReconnects() throws Exception {
        Path sock = dir.resolve("liar.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            try (XsClient c = XsClient.connect(sock, Duration.ofSeconds(10))) {
                CountDownLatch reconnected = new CountDownLatch(1);
                c.onReconnect(reconnected::countDown);
                SocketChannel peer = server.accept();
                CompletableFuture<XsMessage> pending = c.send(XsType.READ, 0, XsMessage.strings("/x"));
                ByteBuffer request = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
                while (request.hasRemaining()) {
                    peer.read(request);
                }
                ByteBuffer answer = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
                answer.putInt(XsType.READ.code()).putInt(request.getInt(4)).putInt(0).putInt(1 << 24).flip();
                peer.write(answer);
                Exception e = assertThrows(Exception.class, () -> pending.get(10, TimeUnit.SECONDS));
                assertInstanceOf(XsConnectionException.class, e.getCause());
                try (SocketChannel again = server.accept()) { // the client comes back by itself
                    assertTrue(reconnected.await(10, TimeUnit.SECONDS));
                    assertTrue(c.connected());
                }
                peer.close();
            }
        }
    }

    @Test
    void anAnswerToNoRequestIsIgnored() throws Exception {
        Path sock = dir.resolve("stray.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            try (XsClient c = XsClient.connect(sock, Duration.ofSeconds(10));
                 SocketChannel peer = server.accept()) {
                ByteBuffer stray = ByteBuffer.allocate(19).order(ByteOrder.LITTLE_ENDIAN);
                stray.putInt(XsType.READ.code()).putInt(0x7777).putInt(0).putInt(3).put(new byte[]{'a', 'b', 0}).flip();
                peer.write(stray);
                CompletableFuture<XsMessage> f = c.send(XsType.READ, 0, XsMessage.strings("/y"));
                ByteBuffer request = ByteBuffer.allocate(16 + 3).order(ByteOrder.LITTLE_ENDIAN);
                while (request.hasRemaining()) {
                    peer.read(request);
                }
                ByteBuffer answer = ByteBuffer.allocate(17).order(ByteOrder.LITTLE_ENDIAN);
                answer.putInt(XsType.READ.code()).putInt(request.getInt(4)).putInt(0).putInt(1).put((byte) 'v').flip();
                peer.write(answer);
                assertEquals("v", new String(f.get(10, TimeUnit.SECONDS).payload()));
                assertTrue(c.connected());
            }
        }
    }
}
