package io.tapdisk4j.qcow2;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.vhd.VhdChecker;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks a qcow2 image and its backing chain as {@code qemu-img check} does: every cluster's refcount against
 * the references to it. A reference to a cluster whose refcount is lower, and clusters used twice, are
 * problems (corruption); a refcount higher than the references is a leak, a warning (the space is lost, the
 * data safe), as is a dirty bit (the next read-write open rebuilds the refcounts).
 */
public final class Qcow2Checker {

    private Qcow2Checker() {
    }

    public static boolean isQcow2(BlockDevices devices, DeviceUri uri) {
        try (BlockDevice t = devices.openTransport(uri, OpenOptions.readOnlyOptions())) {
            return Qcow2Opener.probe(t);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    public static VhdChecker.Result check(BlockDevices devices, DeviceUri uri) {
        List<String> problems = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        List<String> chain = new ArrayList<>();
        try (BlockDevice top = devices.open(uri, OpenOptions.readOnlyOptions().withFormat("qcow2"))) {
            BlockDevice d = top;
            DeviceUri at = uri;
            while (d != null) {
                chain.add(at.text());
                if (!(d instanceof Qcow2Device q)) {
                    break; // a raw or VHD backing file: its own checker's job
                }
                checkOne(q, at.text(), problems, warnings);
                at = q.backingUri();
                d = q.backing();
            }
        } catch (IOException | RuntimeException e) {
            problems.add(e.getMessage());
        }
        return new VhdChecker.Result(uri.text(), List.copyOf(problems), List.copyOf(warnings), List.copyOf(chain));
    }

    private static void checkOne(Qcow2Device q, String where, List<String> problems, List<String> warnings)
            throws BlockDeviceException {
        if (q.header().dirty()) {
            warnings.add(where + ": dirty (lazy refcounts): the refcounts are rebuilt on the next read-write open");
        }
        if (!q.snapshots().isEmpty()) {
            warnings.add(where + ": " + q.snapshots().size() + " internal snapshots (listed only; their clusters are"
                    + " not checked)");
            return;
        }
        Qcow2References r = Qcow2References.count(q);
        for (String o : r.overlaps) {
            problems.add(where + ": " + o);
        }
        Qcow2Refcounts refs = q.refcounts();
        long leaks = 0;
        int reported = 0;
        for (long c = 0; c < r.clusters(); c++) {
            long have = refs.get(c);
            int want = r.count(c);
            if (have < want || want > 0 && have == 0) {
                if (!q.header().dirty() && reported++ < 20) {
                    problems.add(where + ": cluster " + c + " has refcount " + have + " but " + want + " references");
                }
            } else if (have > want) {
                leaks++;
            }
        }
        if (reported > 20) {
            problems.add(where + ": and " + (reported - 20) + " more clusters with too low refcounts");
        }
        if (leaks > 0) {
            warnings.add(where + ": " + leaks + " leaked clusters (counted as used, referenced by nothing)");
        }
    }
}
