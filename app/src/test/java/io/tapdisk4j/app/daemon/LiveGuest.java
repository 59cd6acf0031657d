package io.tapdisk4j.app.daemon;

import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.xenbus.BlkfrontXenbus;
import io.tapdisk4j.ring.xenbus.Toolstack;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenstore.XsClient;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A daemon serving one image to one emulated guest, and a byte model of everything the guest has had
 * acknowledged: what a live operation is checked against.
 */
final class LiveGuest implements AutoCloseable {

    static final VbdId ID = new VbdId(7, 51712);
    static final int BLOCK = 16 << 10;

    final Daemon daemon;
    final XsClient xs;
    final SimGuest guest;
    final BlkfrontXenbus front;
    final byte[] model;
    private final GuestBuffer buf;
    private final GuestBuffer readBuf;

    LiveGuest(Path sim, String uri, int modelBytes) throws Exception {
        daemon = Daemon.start(DaemonOptions.sim(sim));
        xs = XsClient.connect(daemon.xenstoredSocket());
        guest = SimGuest.create(sim, ID.domid(), 1024, 4096);
        Toolstack.createVbd(xs, ID, uri, false);
        front = BlkfrontXenbus.connect(xs, guest, ID, FrontendOptions.defaults(), Duration.ofSeconds(30));
        model = new byte[modelBytes];
        buf = front.emulator().allocateBuffer(BLOCK / 4096);
        readBuf = front.emulator().allocateBuffer(BLOCK / 4096);
    }

    ControlResponse ctl(String command) throws Exception {
        return ControlClient.request(daemon.controlSocket(), command);
    }

    /**
     * Starts a write of block {@code index} filled from {@code seed}; the model changes once it succeeds. One
     * write at a time: they share a guest buffer.
     */
    synchronized CompletableFuture<Boolean> submitWrite(int index, long seed) {
        byte[] data = new byte[BLOCK];
        new Random(seed).nextBytes(data);
        buf.put(0, data);
        long offset = (long) index * BLOCK;
        return front.emulator().write(0, offset / 512, buf, 0, BLOCK).thenApply(r -> {
            if (r.ok()) {
                synchronized (model) {
                    System.arraycopy(data, 0, model, (int) offset, BLOCK);
                }
            }
            return r.ok();
        });
    }

    void write(int index, long seed) throws Exception {
        assertTrue(submitWrite(index, seed).get(30, TimeUnit.SECONDS), "guest write of block " + index);
    }

    /** Reads the whole modelled range through the guest's ring and compares it with the model. */
    void verify(String when) throws Exception {
        byte[] model;
        synchronized (this.model) {
            model = this.model.clone();
        }
        for (int off = 0; off < model.length; off += BLOCK) {
            assertTrue(front.emulator().read(0, off / 512, readBuf, 0, BLOCK).get(30, TimeUnit.SECONDS).ok(),
                    when + ": read at " + off);
            byte[] got = readBuf.get(0, BLOCK);
            if (!Arrays.equals(got, 0, BLOCK, model, off, off + BLOCK)) {
                assertArrayEquals(Arrays.copyOfRange(model, off, off + BLOCK), got, when + ": bytes at " + off);
            }
        }
    }

    @Override
    public void close() throws Exception {
        try {
            buf.close();
            readBuf.close();
            front.disconnect();
            front.close();
            Toolstack.removeVbd(xs, ID);
            xs.close();
        } finally {
            daemon.close();
            guest.close();
        }
    }
}
