package io.tapdisk4j.iscsi.target.scsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.tapdisk4j.block.local.MemoryDevice;
import io.tapdisk4j.iscsi.scsi.ScsiStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The SCSI side alone, on a thin memory device: provisioning state, reservations, sense. */
@Timeout(30)
class ScsiDispatcherTest {

    static final int BLOCK = 512;
    private final MemoryDevice device = new MemoryDevice("scsi", 1 << 20);
    private final ScsiDispatcher dispatcher = new ScsiDispatcher(new LogicalUnit(device, false, "iqn.x:y"), "iqn.x:y");
    private final Nexus a = new Nexus("iqn.2026-12.test:a", 1);
    private final Nexus b = new Nexus("iqn.2026-12.test:b", 2);

    @AfterEach
    void close() {
        device.close();
    }

    private ScsiResult run(Nexus n, byte[] cdb, ByteBuf data) throws Exception {
        return dispatcher.execute(new ScsiRequest(cdb, data, n)).get(10, TimeUnit.SECONDS);
    }

    private static byte[] cdb16(int op, int action, long lba, long count) {
        byte[] c = new byte[16];
        c[0] = (byte) op;
        c[1] = (byte) action;
        Bytes.putLong(c, 2, lba);
        Bytes.putInt(c, 10, (int) count);
        return c;
    }

    /** GET LBA STATUS at {@code lba}: the first descriptor's {LBA, count, status}. */
    private long[] status(long lba) throws Exception {
        ScsiResult r = run(a, cdb16(0x9e, 0x12, lba, 4096), null);
        try {
            assertEquals(ScsiStatus.GOOD, r.status());
            ByteBuf d = r.data();
            return new long[] {d.getLong(8), d.getUnsignedInt(16), d.getByte(20)};
        } finally {
            r.data().release();
        }
    }

    /** MemoryDevice allocates in 64 KiB chunks (128 blocks): the ranges below are whole chunks. */
    @Test
    void thinImagesStayThinAndReportTheirHoles() throws Exception {
        ByteBuf data = Unpooled.buffer(128 * BLOCK).writeZero(128 * BLOCK);
        data.setByte(0, 1);
        assertEquals(ScsiStatus.GOOD, run(a, cdb16(0x8a, 0, 256, 128), data).status()); // WRITE(16)
        assertEquals(0, status(256)[2], "written blocks are mapped");
        long[] hole = status(0);
        assertEquals(1, hole[2], "never written: deallocated");
        assertEquals(256, hole[1], "up to the written range");
        // UNMAP the written range again.
        ByteBuf list = Unpooled.buffer(24).writeShort(22).writeShort(16).writeInt(0).writeLong(256).writeInt(128)
                .writeInt(0);
        byte[] unmap = new byte[10];
        unmap[0] = 0x42;
        unmap[8] = 24;
        assertEquals(ScsiStatus.GOOD, run(a, unmap, list).status());
        assertEquals(1, status(256)[2], "unmapped blocks are deallocated");
        // WRITE SAME(16) with UNMAP and a zero block deallocates too.
        ByteBuf pattern = Unpooled.buffer(128 * BLOCK).writeZero(128 * BLOCK).setByte(3, 9);
        assertEquals(ScsiStatus.GOOD, run(a, cdb16(0x8a, 0, 384, 128), pattern).status());
        assertEquals(0, status(384)[2]);
        byte[] ws = cdb16(0x93, 0x08, 384, 128);
        assertEquals(ScsiStatus.GOOD, run(a, ws, Unpooled.buffer(BLOCK).writeZero(BLOCK)).status());
        assertEquals(1, status(384)[2]);
    }

    @Test
    void lbaStatusPastTheEndIsOutOfRange() throws Exception {
        ScsiResult r = run(a, cdb16(0x9e, 0x12, (1 << 20) / BLOCK, 4096), null);
        assertEquals(ScsiStatus.CHECK_CONDITION, r.status());
        assertEquals(Sense.ILLEGAL_REQUEST, r.sense()[2] & 0x0f);
        assertEquals(0x21, r.sense()[12] & 0xff);
    }

    @Test
    void writeExclusiveRegistrantsOnlyKeepsUnregisteredNexusesFromWriting() throws Exception {
        PersistentReservations pr = dispatcher.logicalUnit().reservations();
        pr.seen(a);
        pr.seen(b);
        pr.register(a, 0, 0xaaL, false);
        pr.reserve(a, 0xaaL, PersistentReservations.WRITE_EXCLUSIVE_REGISTRANTS_ONLY);
        ByteBuf block = Unpooled.buffer(BLOCK).writeZero(BLOCK);
        assertEquals(ScsiStatus.RESERVATION_CONFLICT, run(b, cdb16(0x8a, 0, 0, 1), block.retainedSlice()).status());
        ScsiResult read = run(b, cdb16(0x88, 0, 0, 1), null);
        read.data().release();
        assertEquals(ScsiStatus.GOOD, read.status(), "reads stay allowed");
        pr.register(b, 0, 0xbbL, false);
        assertEquals(ScsiStatus.GOOD, run(b, cdb16(0x8a, 0, 0, 1), block).status(), "a registrant may write");
        // PREEMPT by b removes a's registration and reservation; a gets REGISTRATIONS PREEMPTED.
        pr.preempt(b, 0xbbL, 0xaaL, PersistentReservations.WRITE_EXCLUSIVE);
        assertEquals(0x05, pr.takeAttention(a).ascq());
        assertNull(pr.takeAttention(a));
        assertEquals(java.util.List.of(0xbbL), pr.keys());
    }

    @Test
    void unknownOpcodesAndBadFieldsGetTheirSense() throws Exception {
        ScsiResult r = run(a, new byte[] {(byte) 0xc0, 0, 0, 0, 0, 0}, null);
        assertEquals(0x20, r.sense()[12] & 0xff, "INVALID COMMAND OPERATION CODE");
        byte[] inquiry = {0x12, 0, (byte) 0x80, 0, (byte) 255, 0}; // page code without EVPD
        r = run(a, inquiry, null);
        assertEquals(0x24, r.sense()[12] & 0xff, "INVALID FIELD IN CDB");
    }
}
