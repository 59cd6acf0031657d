package io.tapdisk4j.safety.crash;

import io.tapdisk4j.block.crash.WriteSchedule;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.vhd.VhdChecker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A writer JVM killed with SIGKILL at random points of a write stream, then the image reopened: every
 * write acknowledged after a flush (or FUA) is there, or a later write to the same block replaced it;
 * nothing is torn or garbled. VHD images also pass the vhd module's checker and read back the same through
 * QEMU ({@code qemu-img info} and {@code convert -f vpc}; {@code qemu-img check} has no vpc support).
 */
class CrashConsistencyTest {

    static final int BLOCKS = CrashRounds.BLOCKS;

    @TempDir
    Path dir;

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
            CrashRounds.run(qemuImg, "info", "-f", "vpc", image.toString());
            Files.deleteIfExists(qemuView);
            CrashRounds.run(qemuImg, "convert", "-f", "vpc", "-O", "raw", image.toString(), qemuView.toString());
            return "file://" + qemuView + "?format=raw";
        });
        assertTrue(verified > 0);
    }

    long crashRounds(String name, String uri) throws Exception {
        return crashRounds(name, uri, CrashRounds.Check.NONE);
    }

    /** Runs the kill/reopen/verify rounds on {@code uri}; returns the bytes verified. */
    long crashRounds(String name, String uri, CrashRounds.Check check) throws Exception {
        return CrashRounds.run(dir, name, uri, uri, CrashRounds.Quiesce.NONE, check);
    }
}
