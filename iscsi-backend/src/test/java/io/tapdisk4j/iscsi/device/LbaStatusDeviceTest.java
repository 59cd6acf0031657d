package io.tapdisk4j.iscsi.device;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.iscsi.scsi.Cdb;
import io.tapdisk4j.iscsi.scsi.ScsiStatus;
import io.tapdisk4j.iscsi.testing.ScriptedTarget;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GET LBA STATUS answers tgtd does not give: a thin-provisioned unit (LBPME, LBPRZ) that refuses the
 * command, one that sends contradictory descriptors, and one with anchored blocks.
 */
class LbaStatusDeviceTest {

    static final byte[] INVALID_OPCODE = {0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0x00, 0, 0, 0, 0};
    static final long BLOCKS = 4096;

    /** A unit of {@link #BLOCKS} 512-byte blocks whose GET LBA STATUS answer is {@code answer} (null: refused). */
    static ScriptedTarget unit(byte[] answer, AtomicInteger asked) throws InterruptedException {
        Map<String, String> ops = new LinkedHashMap<>();
        ops.put("MaxRecvDataSegmentLength", "65536");
        return new ScriptedTarget(ops, (s, p) -> {
            byte[] cdb = Arrays.copyOfRange(p.header().bhs(), 32, 48);
            switch (cdb[0] & 0xff) {
                case Cdb.TEST_UNIT_READY -> s.scsiResponse(p.itt(), ScsiStatus.GOOD, null);
                case Cdb.INQUIRY -> {
                    if ((cdb[1] & 1) != 0) {
                        s.scsiResponse(p.itt(), ScsiStatus.CHECK_CONDITION, INVALID_OPCODE);
                    } else {
                        byte[] inq = new byte[36];
                        System.arraycopy("THIN    DISK            0001".getBytes(), 0, inq, 8, 28);
                        s.dataIn(p.itt(), 0, inq, true, 96 - 36);
                    }
                }
                case Cdb.SERVICE_ACTION_IN_16 -> {
                    if ((cdb[1] & 0x1f) == 0x10) {
                        byte[] rc = ByteBuffer.allocate(32).putLong(BLOCKS - 1).putInt(512).put(13, (byte) 0)
                                .put(14, (byte) 0xc0).array(); // LBPME, LBPRZ
                        s.dataIn(p.itt(), 0, rc, true, 0);
                    } else {
                        asked.incrementAndGet();
                        if (answer == null) {
                            s.scsiResponse(p.itt(), ScsiStatus.CHECK_CONDITION, INVALID_OPCODE);
                        } else {
                            int allocation = ByteBuffer.wrap(cdb).getInt(10);
                            s.dataIn(p.itt(), 0, answer, true, allocation - answer.length);
                        }
                    }
                }
                default -> s.scsiResponse(p.itt(), ScsiStatus.CHECK_CONDITION, INVALID_OPCODE);
            }
        });
    }

    static byte[] descriptors(long[]... d) {
        ByteBuffer b = ByteBuffer.allocate(8 + 16 * d.length).putInt(4 + 16 * d.length).putInt(0);
        for (long[] x : d) {
            b.putLong(x[0]).putInt((int) x[1]).put((byte) x[2]).put(new byte[3]);
        }
        return b.array();
    }

    static IscsiBlockDevice open(ScriptedTarget t) throws Exception {
        IscsiUrl url = IscsiUrl.parse(DeviceUri.parse("iscsi://127.0.0.1:" + t.port() + "/iqn.2026-11.test:thin/0"));
        return IscsiBlockDevice.open(url, url.sessionConfig(), true);
    }

    @Test
    void refusedCommandMeansEverythingIsDataFromThenOn() throws Exception {
        AtomicInteger asked = new AtomicInteger();
        try (ScriptedTarget t = unit(null, asked); IscsiBlockDevice d = open(t)) {
            assertTrue(d.reportsAllocation());
            assertEquals(List.of(Extent.data(0, 1 << 20)), d.allocation(0, 1 << 20).get(10, TimeUnit.SECONDS));
            assertFalse(d.reportsAllocation());
            assertEquals(List.of(Extent.data(4096, 4096)), d.allocation(4096, 4096).get(10, TimeUnit.SECONDS));
            assertEquals(1, asked.get(), "not asked again after the refusal");
        }
    }

    @Test
    void contradictoryDescriptorsAreAnIoError() throws Exception {
        byte[] gap = descriptors(new long[] {0, 8, 0}, new long[] {16, 8, 1});
        try (ScriptedTarget t = unit(gap, new AtomicInteger()); IscsiBlockDevice d = open(t)) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> d.allocation(0, 1 << 20).get(10, TimeUnit.SECONDS));
            assertEquals(BlockError.EIO, BlockDeviceException.errorOf(e), e.getCause().getMessage());
            assertTrue(d.reportsAllocation(), "a bad answer is not a refusal");
        }
    }

    @Test
    void deallocatedAndAnchoredBlocksReadAsZeroesUnderLbprz() throws Exception {
        byte[] answer = descriptors(new long[] {0, 8, 0}, new long[] {8, 8, 1}, new long[] {16, 8, 2}, new long[] {24, 4072, 7});
        try (ScriptedTarget t = unit(answer, new AtomicInteger()); IscsiBlockDevice d = open(t)) {
            assertEquals(List.of(Extent.data(0, 4096), new Extent(4096, 4096, true, true), new Extent(8192, 4096, false, true),
                    Extent.data(12288, 4096)), d.allocation(0, 16384).get(10, TimeUnit.SECONDS));
        }
    }
}
