package io.tapdisk4j.safety.crash;

import io.tapdisk4j.block.crash.WriteSchedule;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.block.WriterLocks;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.vhd.VhdChecker;
import io.tapdisk4j.testsupport.peers.Tgtd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Crash consistency on iSCSI storage: the writer JVM (the process doing the I/O through tapdisk4j's
 * iscsi:// initiator) killed with SIGKILL at random points of a write stream to a raw LUN and to a VHD on a
 * LUN of a real tgtd, then the LUN opened again: every write acknowledged after a flush (SYNCHRONIZE CACHE)
 * or with FUA is there, nothing torn. The VHD also passes {@code vdi check}, and QEMU, reading the file
 * behind the LUN, sees the same content ({@code qemu-img compare}; {@code qemu-img check} has no vpc
 * support). Before the checks, tgtd must have dropped the dead writer's session: it does so only after
 * the commands that session was running have completed.
 */
class IscsiCrashConsistencyTest {

    static final long RAW_SIZE = (long) CrashRounds.BLOCKS * WriteSchedule.BLOCK;
    static final long VHD_SIZE = RAW_SIZE * 64;
    /** The LUN under the VHD: metadata, a few 2 MiB blocks and the footer in its last sector. */
    static final long VHD_LUN = 16L << 20;

    @TempDir
    Path dir;

    @Test
    void rawLunKeepsEveryAcknowledgedWriteAcrossSigkill() throws Exception {
        Path backing = lun("raw.lun", RAW_SIZE);
        try (Tgtd tgtd = Tgtd.start(dir).targetWithLun(backing)) {
            String uri = tgtd.url(tgtd.port());
            // A SIGKILLed writer leaves its LUN reservation behind (its pid is gone): the verifier preempts it, as an
            // administrator does with --force after a crash.
            WriterLocks.breakStale(true);
            try {
                long verified = CrashRounds.run(dir, "iscsi raw", uri, uri,
                        () -> tgtd.awaitNoSessions(Duration.ofSeconds(30)), CrashRounds.Check.NONE);
                assertTrue(verified > 0);
            } finally {
                WriterLocks.breakStale(false);
            }
        }
    }

    @Test
    void vhdOnALunKeepsEveryAcknowledgedWriteAndStaysConsistentAcrossSigkill() throws Exception {
        String qemuImg = Peers.require("qemu-img", "qemu-utils");
        Path backing = lun("vhd.lun", VHD_LUN);
        try (Tgtd tgtd = Tgtd.start(dir).targetWithLun(backing)) {
            String uri = tgtd.url(tgtd.port());
            BlockDevices devices = BlockDevices.loadDefault();
            try (BlockDevice transport = devices.openTransport(DeviceUri.parse(uri), OpenOptions.DEFAULT)) {
                devices.formatNamed("vhd").create(transport, VHD_SIZE);
            }
            WriterLocks.breakStale(true); // as above: the verifier preempts a killed writer's reservation
            long verified;
            try {
                verified = CrashRounds.run(dir, "iscsi vhd", uri, uri, () -> tgtd.awaitNoSessions(Duration.ofSeconds(30)),
                        () -> {
                            VhdChecker.Result r = VhdChecker.check(devices, DeviceUri.parse(uri));
                            assertTrue(r.ok(), "vdi check of the VHD on the LUN after SIGKILL: " + r.problems());
                            CrashRounds.run(qemuImg, "info", "-f", "vpc", backing.toString());
                            Path expected = CrashRounds.expectedContent(uri, VHD_SIZE, dir.resolve("expected.raw"));
                            CrashRounds.run(qemuImg, "compare", "-f", "vpc", "-F", "raw", backing.toString(),
                                    expected.toString());
                            return null;
                        });
            } finally {
                WriterLocks.breakStale(false);
            }
            assertTrue(verified > 0);
        }
    }

    private Path lun(String name, long size) throws Exception {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
        return p;
    }
}
