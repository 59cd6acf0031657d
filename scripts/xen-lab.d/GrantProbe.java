import io.tapdisk4j.ring.hv.EventChannel;
import io.tapdisk4j.ring.hv.GrantCopyBatch;
import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantMapping;
import io.tapdisk4j.ring.hv.GrantStatus;
import io.tapdisk4j.ring.hv.HypervisorException;
import io.tapdisk4j.ring.hv.xen.XenHypervisor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The lab's FFM probe, run in dom0 against a live guest D whose blkfront granted its ring page REF to dom0:
 * the same /dev/xen/gntdev and /dev/xen/evtchn code the daemon uses, driven into the hypervisor's errors.
 *   java -cp tapdisk4j.jar:probe GrantProbe D REF     prints PROBE lines; exit 0 when every check held
 */
public final class GrantProbe {

    private static int failures;

    private static void check(boolean ok, String what) {
        System.out.println("LAB-PROBE " + (ok ? "ok " : "FAIL ") + what);
        if (!ok) {
            failures++;
        }
    }

    public static void main(String[] args) throws Exception {
        int domid = Integer.parseInt(args[0]);
        int ref = Integer.parseInt(args[1]);
        try (XenHypervisor hv = XenHypervisor.open(); Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(4096, 4096);
            MemorySegment b = arena.allocate(4096, 4096);
            // One batch, three segments: a good grant, a grant reference beyond the table, a bad domain.
            GrantCopyBatch batch = hv.newCopyBatch(4);
            batch.fromGuest(domid, ref, 0, a, 64);
            batch.fromGuest(domid, 1 << 30, 0, b, 64);
            batch.fromGuest(32000, ref, 0, b, 64);
            batch.execute();
            check(batch.status(0) == GrantStatus.OKAY, "grant copy of ring ref " + ref + ": "
                    + GrantStatus.name(batch.status(0)));
            check(batch.status(1) != GrantStatus.OKAY, "grant copy of ref 2^30 in the same batch: "
                    + GrantStatus.name(batch.status(1)));
            check(batch.status(2) != GrantStatus.OKAY, "grant copy from domain 32000 in the same batch: "
                    + GrantStatus.name(batch.status(2)));
            // Map and unmap the ring page read-only: it holds what grant copy reads. The ring is live (a writer
            // and the backend move its indices), so the check counts only when two copies around the read of
            // the mapping agree, i.e. the page held still meanwhile.
            try (GrantMapping m = hv.map(domid, new int[]{ref}, true)) {
                MemorySegment seen = arena.allocate(64);
                int tries = 0;
                boolean still = false;
                boolean same = false;
                while (!still && tries++ < 1000) {
                    copyRing(hv, domid, ref, a);
                    seen.copyFrom(m.page(0).asSlice(0, 64));
                    copyRing(hv, domid, ref, b);
                    still = a.asSlice(0, 64).mismatch(b.asSlice(0, 64)) == -1;
                    same = seen.mismatch(a.asSlice(0, 64)) == -1;
                }
                check(still && same, "grant map of ring ref " + ref + " reads what grant copy read ("
                        + (still ? "page still after " + tries + " tries" : "the page never held still") + ")");
            }
            try (GrantMapping m = hv.map(domid, new int[]{1 << 30}, true)) {
                check(false, "grant map of ref 2^30 succeeded");
            } catch (GrantException e) {
                check(true, "grant map of ref 2^30 fails: " + e.getMessage());
            }
            try (EventChannel c = hv.bindInterdomain(domid, 1 << 20, () -> { })) {
                check(false, "binding port 2^20 of domain " + domid + " succeeded");
            } catch (HypervisorException e) {
                check(true, "binding a port the guest never allocated fails: " + e.getMessage());
            }
        }
        System.out.println("LAB-PROBE done, " + failures + " failure(s)");
        System.exit(failures == 0 ? 0 : 1);
    }

    /** The first 64 bytes of the guest's ring page (indices and the first request), by grant copy. */
    private static void copyRing(XenHypervisor hv, int domid, int ref, MemorySegment into) throws Exception {
        GrantCopyBatch batch = hv.newCopyBatch(1);
        batch.fromGuest(domid, ref, 0, into, 64);
        batch.execute();
        if (batch.status(0) != GrantStatus.OKAY) {
            throw new IllegalStateException("grant copy of ring ref " + ref + ": " + GrantStatus.name(batch.status(0)));
        }
    }
}
