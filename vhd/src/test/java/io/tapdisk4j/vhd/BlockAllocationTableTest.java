package io.tapdisk4j.vhd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The BAT on its own: encoding, dirty sectors, growing and shrinking. */
@Timeout(10)
class BlockAllocationTableTest {

    @Test
    void emptyTableEncodesAsWholeSectorsOfUnused() {
        BlockAllocationTable bat = BlockAllocationTable.empty(130);
        byte[] disk = bat.encode();
        assertEquals(1024, disk.length, "130 entries take two sectors");
        assertEquals(1024, BlockAllocationTable.bytesOnDisk(130));
        for (byte b : disk) {
            assertEquals((byte) 0xFF, b);
        }
        assertEquals(0, bat.allocatedCount());
        assertEquals(-1, bat.offset(129));
    }

    @Test
    void entriesAreBigEndianSectorNumbersAndRoundTrip() {
        BlockAllocationTable bat = BlockAllocationTable.empty(300);
        bat.set(0, 3 * 512);
        bat.set(299, 0xFFFF_FFFEL * 512); // the largest sector a 32-bit entry can name
        byte[] disk = bat.encode();
        assertEquals(3, ByteBuffer.wrap(disk).getInt(0));
        BlockAllocationTable back = BlockAllocationTable.parse(disk, 300);
        assertEquals(3 * 512, back.offset(0));
        assertEquals(0xFFFF_FFFEL * 512, back.offset(299), "entries are unsigned");
        assertTrue(back.allocated(299));
        assertFalse(back.allocated(1));
        assertEquals(2, back.allocatedCount());
    }

    @Test
    void changesMarkOnlyTheirSectorDirtyOnce() {
        BlockAllocationTable bat = BlockAllocationTable.empty(512);
        bat.set(1, 4096);
        bat.set(2, 8192);
        bat.set(200, 12288);
        List<Map.Entry<Integer, byte[]>> dirty = bat.takeDirty();
        assertEquals(List.of(0, 1), dirty.stream().map(Map.Entry::getKey).toList());
        assertEquals(8, ByteBuffer.wrap(dirty.getFirst().getValue()).getInt(4), "entry 1 in sector 0");
        assertTrue(bat.takeDirty().isEmpty(), "taken once");
        bat.markDirty(3);
        assertEquals(3, bat.takeDirty().getFirst().getKey(), "a failed write-back marks its sector again");
        bat.set(5, -1);
        assertEquals(-1, bat.offset(5), "a negative offset unreferences");
    }

    @Test
    void resizedKeepsEntriesAndFillsNewOnesUnused() {
        BlockAllocationTable bat = BlockAllocationTable.empty(4);
        bat.set(3, 1 << 20);
        BlockAllocationTable grown = bat.resized(10);
        assertEquals(10, grown.size());
        assertEquals(1 << 20, grown.offset(3));
        assertEquals(-1, grown.offset(9));
        BlockAllocationTable cut = grown.resized(3);
        assertEquals(0, cut.allocatedCount(), "the allocated entry was cut off");
        assertArrayEquals(bat.snapshot(), BlockAllocationTable.parse(bat.encode(), 4).snapshot());
    }
}
