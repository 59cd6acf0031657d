package io.tapdisk4j.iscsi.device;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.scsi.Cdb;
import io.tapdisk4j.iscsi.scsi.ScsiStatus;
import io.tapdisk4j.iscsi.testing.ScriptedTarget;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A unit without the 16-byte commands (READ CAPACITY(16) refused, no VPD pages): the device falls back to
 * READ CAPACITY(10) and READ/WRITE(10), and reports no discard.
 */
class ShortCommandsDeviceTest {

    static final byte[] INVALID_OPCODE = {0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0x00, 0, 0, 0, 0};
    static final long BLOCKS = 2048;

    @Test
    void fallsBackToTenByteCommands() throws Exception {
        Map<String, String> ops = new LinkedHashMap<>();
        ops.put("MaxRecvDataSegmentLength", "65536");
        ops.put("ImmediateData", "Yes");
        ops.put("InitialR2T", "No");
        ops.put("FirstBurstLength", "65536");
        ops.put("MaxBurstLength", "262144");
        byte[] disk = new byte[(int) BLOCKS * 512];
        try (ScriptedTarget t = new ScriptedTarget(ops, (s, p) -> {
            if (p.opcode() == Opcode.DATA_OUT) {
                return; // the 4 KiB writes below travel as immediate data
            }
            byte[] cdb = Arrays.copyOfRange(p.header().bhs(), 32, 48);
            int op = cdb[0] & 0xff;
            switch (op) {
                case Cdb.TEST_UNIT_READY, Cdb.SYNCHRONIZE_CACHE_10 -> s.scsiResponse(p.itt(), ScsiStatus.GOOD, null);
                case Cdb.INQUIRY -> {
                    if ((cdb[1] & 1) != 0) {
                        s.scsiResponse(p.itt(), ScsiStatus.CHECK_CONDITION, INVALID_OPCODE);
                    } else {
                        byte[] inq = new byte[36];
                        System.arraycopy("OLD     DISK            0001".getBytes(), 0, inq, 8, 28);
                        s.dataIn(p.itt(), 0, inq, true, 96 - 36);
                    }
                }
                case Cdb.READ_CAPACITY_10 -> {
                    byte[] rc = {0, 0, (byte) ((BLOCKS - 1) >> 8), (byte) (BLOCKS - 1), 0, 0, 2, 0};
                    s.dataIn(p.itt(), 0, rc, true, 0);
                }
                case Cdb.READ_10 -> {
                    int lba = ((cdb[2] & 0xff) << 24) | ((cdb[3] & 0xff) << 16) | ((cdb[4] & 0xff) << 8) | (cdb[5] & 0xff);
                    int n = ((cdb[7] & 0xff) << 8) | (cdb[8] & 0xff);
                    s.dataIn(p.itt(), 0, Arrays.copyOfRange(disk, lba * 512, (lba + n) * 512), true, 0);
                }
                case Cdb.WRITE_10 -> {
                    int lba = ((cdb[2] & 0xff) << 24) | ((cdb[3] & 0xff) << 16) | ((cdb[4] & 0xff) << 8) | (cdb[5] & 0xff);
                    System.arraycopy(p.data(), 0, disk, lba * 512, p.data().length);
                    s.scsiResponse(p.itt(), ScsiStatus.GOOD, null);
                }
                default -> s.scsiResponse(p.itt(), ScsiStatus.CHECK_CONDITION, INVALID_OPCODE);
            }
        })) {
            IscsiUrl url = IscsiUrl.parse(DeviceUri.parse("iscsi://127.0.0.1:" + t.port() + "/iqn.2026-11.test:old/0"));
            try (IscsiBlockDevice d = IscsiBlockDevice.open(url, url.sessionConfig(), false)) {
                assertEquals(BLOCKS * 512, d.size());
                assertFalse(d.has(io.tapdisk4j.block.Capability.DISCARD));
                byte[] data = new byte[4096];
                Arrays.fill(data, (byte) 0x3c);
                ByteBuf b = Buffers.direct(4096).writeBytes(data);
                d.write(8192, b, false).get(10, TimeUnit.SECONDS);
                d.flush().get(10, TimeUnit.SECONDS);
                ByteBuf back = d.read(8192, 4096).get(10, TimeUnit.SECONDS);
                byte[] got = new byte[4096];
                back.getBytes(back.readerIndex(), got);
                back.release();
                assertArrayEquals(data, got);
                assertArrayEquals(data, Arrays.copyOfRange(disk, 8192, 8192 + 4096));
            }
            assertTrue(t.received.stream().anyMatch(r -> r.cdbOpcode() == Cdb.READ_10));
            assertTrue(t.received.stream().anyMatch(r -> r.cdbOpcode() == Cdb.WRITE_10));
            assertTrue(t.received.stream().noneMatch(r -> r.cdbOpcode() == Cdb.READ_16 || r.cdbOpcode() == Cdb.WRITE_16));
        }
    }
}
