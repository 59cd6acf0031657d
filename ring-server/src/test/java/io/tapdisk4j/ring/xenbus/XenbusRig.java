package io.tapdisk4j.ring.xenbus;

import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.hv.sim.SimHypervisor;
import io.tapdisk4j.ring.sim.xenstored.SimXenstored;
import io.tapdisk4j.ring.xenstore.XsClient;
import io.tapdisk4j.ring.xenstore.XsWatch;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A simulated dom0 for handshake tests: xenstored, the sim hypervisor, tapback on its own xenstore
 * connection, and a second connection for the toolstack and guests (as separate processes would have).
 */
final class XenbusRig implements AutoCloseable {

    static final Duration TIMEOUT = Duration.ofSeconds(30);

    final Path dir;
    final SimXenstored xenstored;
    final SimHypervisor hv;
    final XsClient backendXs;
    final XsClient xs;
    final Tapback tapback;
    private final List<AutoCloseable> closeables = new ArrayList<>();

    XenbusRig(Path dir, DataPath path) throws IOException {
        this.dir = dir;
        xenstored = SimXenstored.start(dir.resolve("xenstored.sock"));
        hv = new SimHypervisor(dir);
        backendXs = XsClient.connect(xenstored.socket());
        xs = XsClient.connect(xenstored.socket());
        tapback = Tapback.start(backendXs, TapbackOptions.defaults(hv).withDataPath(path)
                .withCloseTimeout(Duration.ofSeconds(3)));
    }

    SimGuest guest(int domid) throws IOException {
        SimGuest g = SimGuest.create(dir, domid, 2048, 8192);
        closeables.add(g);
        return g;
    }

    <T extends AutoCloseable> T keep(T c) {
        closeables.add(c);
        return c;
    }

    /** Waits until the node at {@code path} satisfies {@code want} (re-checked on every watch event). */
    String await(String path, Predicate<String> want, String what) throws Exception {
        LinkedBlockingQueue<String> events = new LinkedBlockingQueue<>();
        try (XsWatch w = xs.watch(path, "await:" + path + ":" + System.nanoTime(), (p, t) -> events.add(p))) {
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (true) {
                events.clear();
                String v = xs.readOptional(path).orElse(null);
                if (want.test(v)) {
                    return v;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0 || events.poll(left, TimeUnit.NANOSECONDS) == null) {
                    throw new AssertionError(path + " never became " + what + " (last: " + v + ")");
                }
            }
        }
    }

    String awaitState(VbdId id, XenbusState s) throws Exception {
        return await(id.backendPath() + "/state", v -> XenbusState.parse(v) == s, s.toString());
    }

    @Override
    public void close() throws Exception {
        tapback.close();
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        xs.close();
        backendXs.close();
        hv.close();
        xenstored.close();
    }
}
