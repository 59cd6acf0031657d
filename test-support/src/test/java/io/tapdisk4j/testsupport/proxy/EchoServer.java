package io.tapdisk4j.testsupport.proxy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.TimeoutException;

/** A loopback test server that echoes (or only counts) what it receives, one virtual thread per connection. */
final class EchoServer implements AutoCloseable {

    private final ServerSocket socket;
    private final boolean echo;
    private long received;

    EchoServer(boolean echo) throws IOException {
        this.echo = echo;
        this.socket = new ServerSocket();
        socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        Thread.ofVirtual().start(this::acceptLoop);
    }

    int port() {
        return socket.getLocalPort();
    }

    private void acceptLoop() {
        try {
            while (true) {
                Socket s = socket.accept();
                Thread.ofVirtual().start(() -> serve(s));
            }
        } catch (IOException closed) {
            // the test is over
        }
    }

    private void serve(Socket s) {
        try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
            byte[] buf = new byte[65536];
            int n;
            while ((n = in.read(buf)) > 0) {
                if (echo) {
                    out.write(buf, 0, n);
                }
                synchronized (this) {
                    received += n;
                    notifyAll();
                }
            }
        } catch (IOException gone) {
            // the proxy cut the connection: that is what the test asked for
        }
    }

    synchronized void awaitReceived(long bytes, Duration timeout) throws InterruptedException, TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (received < bytes) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new TimeoutException("received " + received + " of " + bytes + " bytes");
            }
            wait(Math.max(1, left / 1_000_000));
        }
    }

    synchronized long received() {
        return received;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
