package io.tapdisk4j.app.daemon;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Sends one command to a running daemon's control socket ({@code ctl}). */
public final class ControlClient {

    private ControlClient() {
    }

    public static ControlResponse request(Path socket, String command) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            try {
                ch.connect(UnixDomainSocketAddress.of(socket));
            } catch (IOException e) {
                throw new IOException("no tapdisk4j daemon answers on " + socket + " (is `tapdisk4j serve` running?)",
                        e);
            }
            ch.write(ByteBuffer.wrap((command.replace('\n', ' ') + "\n").getBytes(StandardCharsets.UTF_8)));
            byte[] answer = Channels.newInputStream(ch).readAllBytes();
            return ControlResponse.decode(new String(answer, StandardCharsets.UTF_8));
        }
    }

    static boolean listening(Path socket) {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
