package io.tapdisk4j.iscsi.scsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ScsiDataTest {

    @Test
    void cdbFieldsAreBigEndianAtTheirOffsets() {
        byte[] c = Cdb.write16(0x0102030405060708L, 0x0a0b0c0d, true);
        assertEquals(0x8a, c[0] & 0xff);
        assertEquals(0x08, c[1]);
        assertEquals(0x01, c[2]);
        assertEquals(0x08, c[9]);
        assertEquals(0x0d, c[13]);
        byte[] r10 = Cdb.read10(0x11223344L, 0x5566, false);
        assertEquals(0x28, r10[0]);
        assertEquals(0x44, r10[5]);
        assertEquals(0x55, r10[7]);
        assertThrows(IllegalArgumentException.class, () -> Cdb.read10(1L << 32, 1, false));
        assertEquals(0x10, Cdb.readCapacity16(32)[1]);
        ByteBuf u = Cdb.unmapParameters(Unpooled.buffer().alloc(), 100, 8);
        assertEquals(22, u.getShort(0));
        assertEquals(16, u.getShort(2));
        assertEquals(100, u.getLong(8));
        assertEquals(8, u.getInt(16));
        u.release();
    }

    @Test
    void fixedAndDescriptorSense() {
        byte[] fixed = new byte[18];
        fixed[0] = 0x70;
        fixed[2] = 0x05;
        fixed[12] = 0x21;
        Sense s = Sense.parse(fixed);
        assertTrue(s.lbaOutOfRange(), s.toString());
        byte[] desc = {0x72, 0x06, 0x29, 0x00};
        assertTrue(Sense.parse(desc).unitAttention());
        assertEquals(Sense.UNKNOWN, Sense.parse(new byte[] {0x70}));
        assertEquals(Sense.UNKNOWN, Sense.parse(new byte[0]));
        assertEquals(Sense.UNKNOWN, Sense.parse(new byte[] {0x12, 1, 2, 3}));
        ByteBuf seg = Unpooled.buffer().writeShort(4).writeBytes(desc);
        assertTrue(Sense.fromResponseSegment(seg).unitAttention());
        ByteBuf lying = Unpooled.buffer().writeShort(200).writeBytes(desc);
        assertTrue(Sense.fromResponseSegment(lying).unitAttention(), "a SenseLength beyond the segment is clipped");
    }

    @Test
    void readCapacityAndHostileValues() {
        ByteBuf b = Unpooled.buffer().writeLong(2047).writeInt(4096).writeByte(0).writeByte(0).writeByte(0xc0).writeZero(17);
        ReadCapacity rc = ReadCapacity.parse16(b);
        assertEquals(2048 * 4096L, rc.bytes());
        assertTrue(rc.lbpme() && rc.lbprz());
        assertThrows(IllegalArgumentException.class,
                () -> ReadCapacity.parse16(Unpooled.buffer().writeLong(1).writeInt(1000).writeZero(20)));
        assertThrows(IllegalArgumentException.class,
                () -> ReadCapacity.parse16(Unpooled.buffer().writeLong(-1).writeInt(512).writeZero(20)));
        assertThrows(IllegalArgumentException.class, () -> ReadCapacity.parse16(Unpooled.buffer().writeZero(4)));
    }

    @Test
    void vpdPages() {
        ByteBuf b0 = Unpooled.buffer().writeByte(0).writeByte(0xb0).writeShort(0x3c).writeZero(4).writeInt(2048)
                .writeInt(128).writeInt(0).writeInt(8192).writeInt(1).writeInt(8).writeInt(0).writeLong(65536).writeZero(16);
        VpdPages.BlockLimits l = VpdPages.blockLimits(b0);
        assertEquals(2048, l.maxTransferLength());
        assertEquals(8192, l.maxUnmapLbaCount());
        assertEquals(65536, l.maxWriteSameLength());
        ByteBuf b2 = Unpooled.buffer().writeByte(0).writeByte(0xb2).writeShort(4).writeByte(0).writeByte(0xc4).writeByte(2).writeByte(0);
        VpdPages.Provisioning p = VpdPages.provisioning(b2);
        assertTrue(p.unmap() && p.writeSame16Unmap() && p.readsZeroes());
        assertThrows(IllegalArgumentException.class, () -> VpdPages.blockLimits(b2.resetReaderIndex()));
        ByteBuf b83 = Unpooled.buffer().writeByte(0).writeByte(0x83).writeShort(8).writeByte(1).writeByte(3).writeByte(0)
                .writeByte(40); // designator claims 40 bytes in an 8-byte page
        b83.writeZero(4);
        assertThrows(IllegalArgumentException.class, () -> VpdPages.designators(b83));
        ByteBuf b00 = Unpooled.buffer().writeByte(0).writeByte(0).writeShort(3).writeByte(0).writeByte(0x80).writeByte(0xb0);
        assertEquals(java.util.List.of(0, 0x80, 0xb0), VpdPages.supportedPages(b00));
        assertFalse(VpdPages.Provisioning.NONE.unmap());
    }

    @Test
    void lunEncoding() {
        assertEquals(1L << 48, LunEncoding.encode(1));
        assertEquals(1, LunEncoding.decode(LunEncoding.encode(1)));
        assertEquals(300, LunEncoding.decode(LunEncoding.encode(300)));
        assertThrows(IllegalArgumentException.class, () -> LunEncoding.encode(20000));
    }
}
