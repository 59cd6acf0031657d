package io.tapdisk4j.vhd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Sector bitmaps on their own: bit order, runs, dirtiness, padding. */
@Timeout(10)
class SectorBitmapTest {

    static final int BLOCK = 2 << 20;

    @Test
    void bitmapOfATwoMegabyteBlockIsOneSector() {
        assertEquals(512, SectorBitmap.bytesFor(BLOCK), "4096 bits padded to a sector");
        assertEquals(512, SectorBitmap.bytesFor(4096));
        assertEquals(1024, SectorBitmap.bytesFor(4096 * 512 * 2), "8192 sectors need 1 KiB");
    }

    @Test
    void theFirstSectorIsTheMostSignificantBit() {
        SectorBitmap b = SectorBitmap.empty(BLOCK);
        b.set(0, 1);
        b.set(9, 1);
        byte[] disk = b.snapshotForWrite();
        assertEquals((byte) 0x80, disk[0]);
        assertEquals((byte) 0x40, disk[1]);
        SectorBitmap back = new SectorBitmap(disk, BLOCK / 512);
        assertTrue(back.isSet(0));
        assertTrue(back.isSet(9));
        assertFalse(back.isSet(8));
    }

    @Test
    void runsCountSectorsOfTheSameState() {
        SectorBitmap b = SectorBitmap.empty(BLOCK);
        b.set(10, 20);
        assertEquals(10, b.run(0, 4096), "clear up to 10");
        assertEquals(20, b.run(10, 4096), "set from 10 to 29");
        assertEquals(5, b.run(10, 5), "bounded by max");
        assertEquals(4096 - 30, b.run(30, 4096 - 30));
        assertTrue(b.anySet());
        assertFalse(b.allSet());
        b.clear(10, 20);
        assertFalse(b.anySet());
    }

    @Test
    void dirtyOnlyWhenABitChanges() {
        SectorBitmap b = SectorBitmap.full(BLOCK);
        assertTrue(b.allSet());
        b.snapshotForWrite();
        assertFalse(b.dirty());
        assertFalse(b.set(0, 100), "setting set bits changes nothing");
        assertFalse(b.dirty());
        assertTrue(b.clear(5, 1));
        assertTrue(b.dirty());
        b.snapshotForWrite();
        assertFalse(b.dirty(), "the snapshot takes the dirty mark");
        b.markDirty();
        assertTrue(b.dirty(), "a failed write-back marks it again");
    }
}
