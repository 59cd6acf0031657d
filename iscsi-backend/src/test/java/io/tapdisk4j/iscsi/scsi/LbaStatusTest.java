package io.tapdisk4j.iscsi.scsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** GET LBA STATUS parameter data: what a target may send, cut short, contradicting itself, or hostile. */
class LbaStatusTest {

    /** Parameter data with the given {lba, blocks, status} descriptors and a truthful length field. */
    static ByteBuf data(long[]... descriptors) {
        ByteBuf b = Unpooled.buffer();
        b.writeInt(4 + 16 * descriptors.length).writeInt(0);
        for (long[] d : descriptors) {
            b.writeLong(d[0]).writeInt((int) d[1]).writeByte((int) d[2]).writeZero(3);
        }
        return b;
    }

    static List<LbaStatus.Descriptor> parse(ByteBuf b, long start, long max) {
        try {
            return LbaStatus.parse(b, start, max);
        } finally {
            b.release();
        }
    }

    @Test
    void cdbAsksForTheServiceAction() {
        byte[] c = Cdb.getLbaStatus(0x0102030405060708L, LbaStatus.allocationLength(4));
        assertEquals(0x9e, c[0] & 0xff);
        assertEquals(0x12, c[1]);
        assertEquals(0x01, c[2]);
        assertEquals(0x08, c[9]);
        assertEquals(8 + 64, c[13]);
        assertEquals(16, c.length);
    }

    @Test
    void contiguousRunsAreReadAndNeighboursMerged() {
        List<LbaStatus.Descriptor> d = parse(data(new long[] {100, 50, 1}, new long[] {150, 10, 0}, new long[] {160, 5, 0},
                new long[] {165, 35, 2}), 100, 1000);
        assertEquals(List.of(new LbaStatus.Descriptor(100, 50, LbaStatus.DEALLOCATED),
                new LbaStatus.Descriptor(150, 15, LbaStatus.MAPPED), new LbaStatus.Descriptor(165, 35, LbaStatus.ANCHORED)), d);
    }

    @Test
    void firstRunMayBeginBeforeTheStart() {
        assertEquals(List.of(new LbaStatus.Descriptor(100, 20, 0)), parse(data(new long[] {64, 56, 0}), 100, 1000));
    }

    @Test
    void cutShortByTheAllocationLengthKeepsWholeDescriptors() {
        ByteBuf full = data(new long[] {0, 8, 1}, new long[] {8, 8, 0});
        // The length field still counts both descriptors; only one and a half arrived.
        ByteBuf cut = full.slice(0, 8 + 16 + 7);
        assertEquals(List.of(new LbaStatus.Descriptor(0, 8, 1)), LbaStatus.parse(cut, 0, 100));
        full.release();
    }

    @Test
    void stopsAtTheEndOfTheUnit() {
        assertEquals(List.of(new LbaStatus.Descriptor(0, 100, 0)),
                parse(data(new long[] {0, 100, 0}, new long[] {100, 5, 1}), 0, 100));
    }

    @Test
    void contradictionsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> parse(Unpooled.buffer().writeInt(0), 0, 100), "short header");
        assertThrows(IllegalArgumentException.class, () -> parse(data(), 0, 100), "no descriptor");
        assertThrows(IllegalArgumentException.class, () -> parse(data(new long[] {10, 5, 0}), 5, 100),
                "first run after the start");
        assertThrows(IllegalArgumentException.class, () -> parse(data(new long[] {0, 5, 0}), 5, 100),
                "first run ends before the start");
        assertThrows(IllegalArgumentException.class, () -> parse(data(new long[] {0, 5, 0}, new long[] {6, 5, 1}), 0, 100),
                "gap");
        assertThrows(IllegalArgumentException.class, () -> parse(data(new long[] {0, 5, 0}, new long[] {4, 5, 1}), 0, 100),
                "overlap");
        assertThrows(IllegalArgumentException.class, () -> parse(data(new long[] {0, 0, 0}), 0, 100), "empty run");
        assertThrows(IllegalArgumentException.class, () -> parse(data(new long[] {0, 101, 0}), 0, 100), "past the end");
        assertThrows(IllegalArgumentException.class, () -> parse(data(new long[] {-1, 1, 0}), 0, 100), "negative LBA");
        assertThrows(IllegalArgumentException.class, () -> parse(data(new long[] {0, 0xffffffffL, 0}), 0, 100),
                "huge count");
    }

    /** Random bytes: a descriptor list within the unit, or IllegalArgumentException, nothing else. */
    @Test
    void randomInputOnlyEverFailsCleanly() {
        java.util.Random r = new java.util.Random(2026);
        for (int i = 0; i < 20_000; i++) {
            byte[] junk = new byte[r.nextInt(80)];
            r.nextBytes(junk);
            if (junk.length >= 24 && r.nextBoolean()) {
                // Often a plausible first descriptor, so that later checks are reached too.
                java.nio.ByteBuffer.wrap(junk).putInt(0, junk.length - 4).putLong(8, 0).putInt(16, 1 + r.nextInt(64));
            }
            long max = 1 + r.nextInt(1000);
            try {
                List<LbaStatus.Descriptor> d = LbaStatus.parse(Unpooled.wrappedBuffer(junk), 0, max);
                assertEquals(0, d.get(0).lba());
                for (LbaStatus.Descriptor x : d) {
                    assertTrue(x.blocks() > 0 && x.end() <= max, x.toString());
                }
            } catch (IllegalArgumentException expected) {
                // refused with a message: fine
            }
        }
    }

    @Test
    void lengthFieldLargerThanTheDataUsesWhatArrived() {
        ByteBuf b = data(new long[] {0, 4, 0});
        b.setInt(0, Integer.MAX_VALUE);
        assertEquals(List.of(new LbaStatus.Descriptor(0, 4, 0)), parse(b, 0, 100));
    }
}
