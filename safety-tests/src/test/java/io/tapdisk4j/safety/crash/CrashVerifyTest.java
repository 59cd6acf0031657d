package io.tapdisk4j.safety.crash;

import io.tapdisk4j.block.crash.WriteSchedule;
import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.DeviceUri;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The crash check's verdicts: a later write cut short at a sector boundary passes; an older sector does not. */
class CrashVerifyTest {

    @TempDir
    Path dir;

    /** Block 0 made of write {@code first}'s sectors up to {@code cut}, then write {@code second}'s. */
    private String image(WriteSchedule s, int first, int second, int cut) throws Exception {
        String uri = "file://" + dir.resolve("verify-" + first + "-" + second + "-" + cut + ".raw");
        BlockDevices.loadDefault().create(DeviceUri.parse(uri), (long) s.blocks * WriteSchedule.BLOCK, "raw").close();
        ByteBuf a = Buffers.direct(WriteSchedule.BLOCK);
        ByteBuf b = Buffers.direct(WriteSchedule.BLOCK);
        s.fill(a, first);
        s.fill(b, second);
        ByteBuf mixed = Buffers.direct(WriteSchedule.BLOCK);
        mixed.writeBytes(a, 0, cut * WriteSchedule.SECTOR).writeBytes(b, cut * WriteSchedule.SECTOR,
                WriteSchedule.BLOCK - cut * WriteSchedule.SECTOR);
        a.release();
        b.release();
        try (BlockDevice d = BlockDevices.loadDefault().open(uri + "?format=raw")) {
            d.write(0, mixed, false).get(10, TimeUnit.SECONDS);
        }
        return uri + "?format=raw";
    }

    /** Writes to block 0 of a one-block schedule are writes 0, 1, 2, ... */
    private static WriteSchedule oneBlock() {
        return new WriteSchedule(42, 1, 100, 1, 0);
    }

    @Test
    void laterWriteTornAtASectorBoundaryPasses() throws Exception {
        WriteSchedule s = oneBlock();
        long[] torn = {0};
        assertEquals(WriteSchedule.BLOCK, CrashRounds.verify(image(s, 5, 9, 3), s, 5, "torn", 0, torn));
        assertEquals(1, torn[0]);
    }

    @Test
    void wholeLaterWritePassesUntorn() throws Exception {
        WriteSchedule s = oneBlock();
        long[] torn = {0};
        CrashRounds.verify(image(s, 9, 9, 8), s, 5, "later", 0, torn);
        assertEquals(0, torn[0]);
    }

    @Test
    void aSectorOlderThanTheAcknowledgedWriteFails() throws Exception {
        WriteSchedule s = oneBlock();
        String uri = image(s, 3, 5, 1); // sector 0 from write 3, the rest from the acknowledged write 5
        assertThrows(AssertionError.class, () -> CrashRounds.verify(uri, s, 5, "older", 0, new long[1]));
    }

    @Test
    void zeroesWhereAWriteWasAcknowledgedFail() throws Exception {
        WriteSchedule s = oneBlock();
        String uri = "file://" + dir.resolve("zero.raw");
        BlockDevices.loadDefault().create(DeviceUri.parse(uri), WriteSchedule.BLOCK, "raw").close();
        assertThrows(AssertionError.class, () -> CrashRounds.verify(uri + "?format=raw", s, 0, "zero", 0, new long[1]));
    }
}
