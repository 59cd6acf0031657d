package io.tapdisk4j.safety.crash;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.safety.report.SafetyReport;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.vhd.VhdChecker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A writer JVM killed with SIGKILL at random points of a write stream, then the image reopened: every
 * write acknowledged after a flush (or FUA) is there, or a later write to the same block replaced it;
 * nothing is torn or garbled. VHD images also pass the vhd module's checker and read back the same through
 * QEMU ({@code qemu-img info} and {@code convert -f vpc}; {@code qemu-img check} has no vpc support).
 */
class CrashConsistencyTest {

    static final int BLOCKS = 256;
    static final int WRITES = 50_000;

    @TempDir
    Path dir;

    static int rounds() {
        return Math.max(4, SafetyReport.trials() / 100);
    }

    @Test
    void rawImageKeepsEveryAcknowledgedWriteAcrossSigkill() throws Exception {
        Path image = dir.resolve("crash.raw");
        String uri = "file://" + image;
        BlockDevices.loadDefault().create(DeviceUri.parse(uri), (long) BLOCKS * WriteSchedule.BLOCK, "raw").close();
        long verified = crashRounds("raw", uri);
        assertTrue(verified > 0);
    }

    @Test
    void vhdImageKeepsEveryAcknowledgedWriteAndStaysConsistentAcrossSigkill() throws Exception {
        Path image = dir.resolve("crash.vhd");
        String uri = "file://" + image;
        BlockDevices devices = BlockDevices.loadDefault();
        devices.create(DeviceUri.parse(uri), (long) BLOCKS * WriteSchedule.BLOCK * 64, "vhd").close();
        String qemuImg = Peers.require("qemu-img", "qemu-utils");
        Path qemuView = dir.resolve("qemu-view.raw");
        long verified = crashRounds("vhd", uri, () -> {
            VhdChecker.Result r = VhdChecker.check(devices, DeviceUri.parse(uri));
            assertTrue(r.ok(), "vdi check after SIGKILL: " + r.problems());
            // qemu-img check has no vpc support: QEMU's view is checked by converting the image with it.
            run(qemuImg, "info", "-f", "vpc", image.toString());
            Files.deleteIfExists(qemuView);
            run(qemuImg, "convert", "-f", "vpc", "-O", "raw", image.toString(), qemuView.toString());
            return "file://" + qemuView + "?format=raw";
        });
        assertTrue(verified > 0);
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + " after SIGKILL:\n" + out);
    }

    /**
     * A consistency check run after every kill, before the data is verified; it may name a second view of
     * the same data (QEMU's) that must hold the acknowledged writes too.
     */
    interface Check {
        String run() throws Exception;
    }

    long crashRounds(String name, String uri) throws Exception {
        return crashRounds(name, uri, () -> null);
    }

    /** Runs the kill/reopen/verify rounds on {@code uri}; returns the bytes verified. */
    long crashRounds(String name, String uri, Check check) throws Exception {
        SplittableRandom r = new SplittableRandom(SafetyReport.seedFor("crash/" + name));
        long verified = 0;
        int rounds = rounds();
        for (int round = 0; round < rounds; round++) {
            WriteSchedule s = new WriteSchedule(r.nextLong() | 1, BLOCKS, WRITES, 1 + r.nextInt(32), 2 + r.nextInt(40));
            int killAfterAcks = 1 + r.nextInt(60);
            int lastAck = -1;
            try (CrashChild child = CrashChild.start(dir, uri, s, 1 + r.nextInt(16))) {
                String first = child.line();
                assertTrue(first.startsWith("READY"), first);
                int acks = 0;
                while (acks < killAfterAcks) {
                    String l = child.line();
                    if (l.equals("DONE")) {
                        break;
                    }
                    assertTrue(l.startsWith("ACK "), l);
                    lastAck = Integer.parseInt(l.substring(4));
                    acks++;
                }
                child.kill(); // somewhere after the last acknowledgement read: writes in flight are lost or not
            }
            String secondView = check.run();
            verified += verify(uri, s, lastAck, name, round);
            if (secondView != null) {
                verified += verify(secondView, s, lastAck, name + " (QEMU's view)", round);
            }
        }
        System.out.println("[safety] crash " + name + ": " + rounds + " SIGKILL rounds, " + verified + " bytes verified");
        return verified;
    }

    private long verify(String uri, WriteSchedule s, int lastAck, String name, int round) throws Exception {
        int[] lastAcked = new int[s.blocks];
        java.util.Arrays.fill(lastAcked, -1);
        for (int i = 0; i <= lastAck; i++) {
            lastAcked[s.block(i)] = i;
        }
        long verified = 0;
        try (BlockDevice d = BlockDevices.loadDefault().open(uri)) {
            for (int b = 0; b < s.blocks; b++) {
                if (lastAcked[b] < 0) {
                    continue;
                }
                ByteBuf data = d.read((long) b * WriteSchedule.BLOCK, WriteSchedule.BLOCK).get(30, TimeUnit.SECONDS);
                try {
                    int found = s.identify(data);
                    String where = name + " round " + round + " (seed " + s.seed + ") block " + b;
                    assertTrue(found >= 0, where + ": acknowledged write " + lastAcked[b] + " lost ("
                            + (found == -1 ? "zeroes" : "garbled or older data") + ")");
                    assertEquals(b, s.block(found), where + ": holds write " + found + " meant for another block");
                    assertTrue(found >= lastAcked[b], where + ": holds write " + found
                            + ", older than acknowledged write " + lastAcked[b]);
                    verified += WriteSchedule.BLOCK;
                } finally {
                    data.release();
                }
            }
        }
        return verified;
    }
}
