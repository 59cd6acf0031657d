package io.tapdisk4j.testsupport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;

/** Loopback ports for test servers. */
public final class Ports {

    private Ports() {
    }

    /** A port free on 127.0.0.1 right now (the OS picks it). */
    public static int free() {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Waits until something accepts connections on 127.0.0.1:port, or fails after {@code timeout}. */
    public static void awaitListening(int port, Duration timeout, Process process) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 200);
                return;
            } catch (IOException e) {
                if (process != null && !process.isAlive()) {
                    throw new AssertionError("peer exited with status " + process.exitValue()
                            + " before listening on port " + port);
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("nothing listens on 127.0.0.1:" + port + " after " + timeout);
                }
                Thread.onSpinWait();
                try {
                    Thread.sleep(20); // polling a port for readiness: there is no event to wait on
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError(ie);
                }
            }
        }
    }
}
