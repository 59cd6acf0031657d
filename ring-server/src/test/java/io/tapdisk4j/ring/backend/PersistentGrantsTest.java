package io.tapdisk4j.ring.backend;

import io.tapdisk4j.ring.blkif.BlkifRequest;
import io.tapdisk4j.ring.hv.EventChannel;
import io.tapdisk4j.ring.hv.GrantCopyBatch;
import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantMapping;
import io.tapdisk4j.ring.hv.Hypervisor;
import io.tapdisk4j.ring.hv.HypervisorException;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.hv.sim.SimHypervisor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The bookkeeping of {@link PersistentGrants}, on the simulated hypervisor with its map calls counted. */
@Timeout(30)
class PersistentGrantsTest {

    @TempDir
    Path dir;

    private SimHypervisor sim;
    private SimGuest guest;
    private CountingHypervisor hv;

    @BeforeEach
    void setUp() throws Exception {
        sim = new SimHypervisor(dir);
        guest = SimGuest.create(dir, 1, 64, 256);
        hv = new CountingHypervisor(sim);
    }

    @AfterEach
    void tearDown() {
        guest.close();
        sim.close();
    }

    /** Grants {@code n} fresh frames, each page filled with its index + 1. */
    private int[] grantPages(int n) {
        int[] refs = new int[n];
        for (int i = 0; i < n; i++) {
            int f = guest.allocateFrame();
            guest.frame(f).fill((byte) (i + 1));
            refs[i] = guest.grant(f, 0, false);
        }
        return refs;
    }

    private static BlkifRequest request(int... refs) {
        BlkifRequest q = new BlkifRequest(refs.length);
        for (int i = 0; i < refs.length; i++) {
            q.segment(i, refs[i], 0, 7);
        }
        q.nrSegments = refs.length;
        return q;
    }

    @Test
    void newGrantsOfARequestAreMappedTogetherOnceAndKept() throws Exception {
        int[] refs = grantPages(4);
        try (PersistentGrants g = new PersistentGrants(hv, 1)) {
            // A request naming one grant twice maps it once.
            BlkifRequest q = request(refs[0], refs[1], refs[0], refs[2]);
            try (PersistentGrants.Pages p = g.pages(q, 4, false)) {
                assertFalse(p.hasTransient());
                assertEquals(1, p.page(0).get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
                assertEquals(2, p.page(1).get(java.lang.foreign.ValueLayout.JAVA_BYTE, 100));
                assertEquals(1, p.page(2).get(java.lang.foreign.ValueLayout.JAVA_BYTE, 4095));
                assertEquals(3, p.page(3).get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
            }
            assertEquals(1, hv.maps.size(), "one map call for the request's new grants");
            assertEquals(3, hv.maps.getFirst().pageCount());
            assertEquals(3, g.size());
            // The next request maps only its new grant and reuses the rest.
            try (PersistentGrants.Pages p = g.pages(request(refs[2], refs[3], refs[1]), 3, true)) {
                assertEquals(4, p.page(1).get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
            }
            assertEquals(2, hv.maps.size());
            assertEquals(1, hv.maps.get(1).pageCount());
            // Nothing new: no map call at all.
            g.pages(request(refs[3], refs[0]), 2, false).close();
            assertEquals(2, hv.maps.size());
            assertEquals(0, hv.closed());
        }
        assertEquals(2, hv.closed(), "closing unmaps every kept mapping");
    }

    @Test
    void grantsBeyondTheLimitAreMappedForTheRequestAloneAndUnmappedAfterIt() throws Exception {
        int[] refs = grantPages(5);
        try (PersistentGrants g = new PersistentGrants(hv, 1, 3)) {
            PersistentGrants.Pages p = g.pages(request(refs), 5, true);
            assertTrue(p.hasTransient());
            assertEquals(3, g.size());
            assertEquals(0, g.room());
            for (int i = 0; i < 5; i++) {
                assertEquals(i + 1, p.page(i).get(java.lang.foreign.ValueLayout.JAVA_BYTE, 7), "segment " + i);
            }
            assertEquals(2, hv.maps.size());
            assertFalse(hv.maps.get(0).readOnly, "kept grants are mapped writable");
            assertFalse(hv.maps.get(1).readOnly, "a read's transient pages are writable");
            assertEquals(2, hv.maps.get(1).pageCount());
            p.close();
            assertEquals(1, hv.closed(), "the transient mapping is gone once the request is done");
            // A write maps the overflow read-only, and the kept ones stay.
            g.pages(request(refs[4], refs[0]), 2, false).close();
            assertTrue(hv.maps.get(2).readOnly);
            assertEquals(2, hv.closed());
        }
        assertEquals(3, hv.closed());
    }

    @Test
    void aRevokedGrantFailsTheRequestAndKeepsNothingOfIt() throws Exception {
        int[] refs = grantPages(2);
        guest.revoke(refs[1]);
        try (PersistentGrants g = new PersistentGrants(hv, 1)) {
            assertThrows(GrantException.class, () -> g.pages(request(refs), 2, false));
            assertEquals(0, g.size());
            assertNull(g.page(refs[0]));
        }
        assertEquals(0, hv.closed(), "the failed map left nothing mapped");
    }

    /** The simulated hypervisor with every map recorded and every unmap counted. */
    static final class CountingHypervisor implements Hypervisor {
        final Hypervisor delegate;
        final List<Recorded> maps = new ArrayList<>();

        CountingHypervisor(Hypervisor delegate) {
            this.delegate = delegate;
        }

        int closed() {
            return (int) maps.stream().filter(m -> m.closed).count();
        }

        @Override
        public String name() {
            return delegate.name();
        }

        @Override
        public GrantCopyBatch newCopyBatch(int capacity) {
            return delegate.newCopyBatch(capacity);
        }

        @Override
        public GrantMapping map(int domid, int[] refs, boolean readOnly) throws GrantException {
            Recorded r = new Recorded(delegate.map(domid, refs, readOnly), readOnly);
            maps.add(r);
            return r;
        }

        @Override
        public EventChannel bindInterdomain(int domid, int remotePort, Runnable onEvent) throws HypervisorException {
            return delegate.bindInterdomain(domid, remotePort, onEvent);
        }

        @Override
        public void close() {
            delegate.close();
        }
    }

    static final class Recorded implements GrantMapping {
        final GrantMapping m;
        final boolean readOnly;
        boolean closed;

        Recorded(GrantMapping m, boolean readOnly) {
            this.m = m;
            this.readOnly = readOnly;
        }

        @Override
        public int pageCount() {
            return m.pageCount();
        }

        @Override
        public MemorySegment page(int i) {
            return m.page(i);
        }

        @Override
        public void close() {
            closed = true;
            m.close();
        }
    }
}
