package io.tapdisk4j.app;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.block.cbt.CbtLog;
import io.tapdisk4j.nbd.server.NbdExport;
import io.tapdisk4j.nbd.server.NbdServer;
import io.tapdisk4j.rbd.testing.CephCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.Base64;
import java.util.BitSet;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code vdi cbt changed BASE NEW} and {@code export NEW --dirty-since BASE} for two snapshots of one rbd://
 * image, from librbd's diff, against a single-node Ceph cluster; the same outputs as for files.
 */
@Timeout(300)
class RbdCbtTest {

    private static final int B = CbtLog.BLOCK_SIZE;
    private static final long OBJECT = 4L << 20; // rbd create's default object size

    @Test
    void changedBlocksBetweenTwoRbdSnapshotsComeFromTheDiff() throws Exception {
        CephCluster ceph = CephCluster.shared();
        String name = "cbt-" + ProcessHandle.current().pid();
        String image = ceph.uri(name);
        CbtTest.ok("vdi", "create", image, "--size", "64M");
        Random rnd = new Random(23);
        write(image, rnd, 6, new BitSet()); // before BASE: must not show
        try (BlockDevice d = BlockDevices.loadDefault().open(image)) {
            d.write(40L << 20, Buffers.direct(2 * B).writeBytes(new byte[2 * B]).setByte(0, 1), false).get(30, TimeUnit.SECONDS);
            d.flush().get(30, TimeUnit.SECONDS);
        }
        String s1 = snapshot(ceph, name, "s1");
        BitSet written = new BitSet();
        write(image, rnd, 12, written);
        // Also a discard since BASE of data written before it: it changes what the blocks read, so they count.
        try (BlockDevice d = BlockDevices.loadDefault().open(image)) {
            d.discard(40L << 20, 2 * B, false).get(30, TimeUnit.SECONDS);
            d.flush().get(30, TimeUnit.SECONDS);
        }
        written.set((int) ((40L << 20) / B), (int) ((40L << 20) / B) + 2);
        String s2 = snapshot(ceph, name, "s2");

        String[] changed = CbtTest.ok("vdi", "cbt", "changed", s1, s2);
        BitSet bits = BitSet.valueOf(Base64.getDecoder().decode(changed[1].strip()));
        assertCovers(written, bits);
        assertEquals(64L * 1024 * 1024 / B / 8, Base64.getDecoder().decode(changed[1].strip()).length,
                "XAPI's bitmap has one bit per 64 KiB block of the whole image");

        String json = CbtTest.ok("vdi", "cbt", "changed", s1, s2, "--json")[1];
        assertEquals(bits, fromJson(json), json);

        // Nothing changed between a snapshot and itself, nor between s2 and the head (not written since).
        assertEquals("[]", CbtTest.ok("vdi", "cbt", "changed", s2, s2, "--json")[1].strip());
        assertEquals("[]", CbtTest.ok("vdi", "cbt", "changed", s2, image, "--json")[1].strip());
        // From s1 to the head: the same as to s2.
        assertEquals(bits, fromJson(CbtTest.ok("vdi", "cbt", "changed", s1, image, "--json")[1]));

        // export s2 --dirty-since s1 offers the same blocks as qemu:dirty-bitmap:cbt, read by nbdinfo.
        try (BlockDevice snap = CbtExports.withBitmap(BlockDevices.loadDefault().open(s2, OpenOptions.readOnlyOptions()), s2, s1);
             NbdServer server = NbdServer.builder().export(new NbdExport("s2", "", snap, true)).bindTcp("127.0.0.1", 0)) {
            assertEquals(bits, CbtTest.nbdinfoDirty("nbd://127.0.0.1:" + server.port() + "/s2"));
        }

        // BASE from another image, or not a snapshot: a clear error, exit status 2 (the storage cannot tell).
        String[] wrong = CbtTest.cli("vdi", "cbt", "changed", ceph.uri("other@s1"), s2);
        assertEquals("2", wrong[0], wrong[1] + wrong[2]);
        assertTrue(wrong[2].contains("BASE must be a snapshot of NEW's RBD image"), wrong[2]);
        String[] missing = CbtTest.cli("vdi", "cbt", "changed", ceph.uri(name + "@nosuch"), s2);
        assertEquals("2", missing[0], missing[1] + missing[2]);
        assertTrue(missing[2].contains("nosuch") || missing[2].toLowerCase().contains("no such"), missing[2]);
    }

    /**
     * Every written block is reported, and every reported block lies in a RADOS object that was written: with
     * fast-diff librbd reports whole objects, which is coarser than 64 KiB but never misses a block.
     */
    private static void assertCovers(BitSet written, BitSet reported) {
        BitSet missed = (BitSet) written.clone();
        missed.andNot(reported);
        assertTrue(missed.isEmpty(), "blocks written but not reported: " + missed);
        int perObject = (int) (OBJECT / B);
        for (int blk = reported.nextSetBit(0); blk >= 0; blk = reported.nextSetBit(blk + 1)) {
            int obj = blk / perObject;
            int next = written.nextSetBit(obj * perObject);
            assertTrue(next >= 0 && next < (obj + 1) * perObject, "block " + blk + " reported, but its object was not written");
        }
    }

    private static BitSet fromJson(String json) {
        BitSet bits = new BitSet();
        Matcher m = Pattern.compile("\\{\"offset\":(\\d+),\"length\":(\\d+)}").matcher(json);
        while (m.find()) {
            long off = Long.parseLong(m.group(1));
            bits.set((int) (off / B), (int) ((off + Long.parseLong(m.group(2)) + B - 1) / B));
        }
        return bits;
    }

    private static String snapshot(CephCluster ceph, String name, String snap) {
        ceph.rbd("snap", "create", CephCluster.POOL + "/" + name + "@" + snap);
        return ceph.uri(name + "@" + snap);
    }

    /** Random writes in the first 32 MiB (objects 0-7; the rest stays untouched), recording their blocks. */
    private static void write(String uri, Random rnd, int count, BitSet blocks) throws Exception {
        try (BlockDevice d = BlockDevices.loadDefault().open(uri)) {
            for (int i = 0; i < count; i++) {
                int len = 512 * (1 + rnd.nextInt(300));
                long off = 512L * rnd.nextInt((int) (((32L << 20) - len) / 512));
                byte[] data = new byte[len];
                rnd.nextBytes(data);
                d.write(off, Buffers.direct(len).writeBytes(data), false).get(30, TimeUnit.SECONDS);
                blocks.set((int) (off / B), (int) ((off + len - 1) / B) + 1);
            }
            d.flush().get(30, TimeUnit.SECONDS);
        }
    }
}
