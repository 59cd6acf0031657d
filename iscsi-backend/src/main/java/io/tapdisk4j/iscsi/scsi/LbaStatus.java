package io.tapdisk4j.iscsi.scsi;

import io.netty.buffer.ByteBuf;

import java.util.ArrayList;
import java.util.List;

/**
 * GET LBA STATUS parameter data (SBC-4 5.8.2): an 8-byte header whose first four bytes count the bytes
 * that follow, then 16-byte descriptors of starting LBA, number of blocks and provisioning status.
 * The first descriptor covers the LBA asked for (it may begin before it), the others follow without gaps;
 * the target may stop early (or be cut short by the allocation length), so a prefix of the range is what
 * comes back.
 */
public final class LbaStatus {

    /** Provisioning status values (low four bits of descriptor byte 12). */
    public static final int MAPPED = 0;
    public static final int DEALLOCATED = 1;
    public static final int ANCHORED = 2;

    static final int HEADER = 8;
    static final int DESCRIPTOR = 16;

    /** One run of blocks with the same provisioning status. */
    public record Descriptor(long lba, long blocks, int status) {
        public long end() {
            return lba + blocks;
        }
    }

    private LbaStatus() {
    }

    /** The allocation length that leaves room for {@code descriptors} descriptors. */
    public static int allocationLength(int descriptors) {
        return HEADER + DESCRIPTOR * descriptors;
    }

    /**
     * The descriptors of a response to a query starting at {@code startLba}, the first one cut to begin
     * there, merged where neighbours have the same status. Throws {@link IllegalArgumentException} for
     * data that contradicts itself: a short header, a first descriptor that does not cover
     * {@code startLba}, gaps or overlaps, empty runs, or runs past {@code maxLba} (the unit's block count).
     */
    public static List<Descriptor> parse(ByteBuf b, long startLba, long maxLba) {
        if (b.readableBytes() < HEADER) {
            throw new IllegalArgumentException("GET LBA STATUS data of " + b.readableBytes() + " bytes");
        }
        int at = b.readerIndex();
        long declared = b.getUnsignedInt(at) + 4;
        // What the target says it has, cut to what arrived; a partial descriptor at the end is dropped.
        long usable = Math.min(declared, b.readableBytes());
        int count = (int) ((usable - HEADER) / DESCRIPTOR);
        if (count <= 0) {
            throw new IllegalArgumentException("GET LBA STATUS returned no descriptor (parameter data length "
                    + (declared - 4) + ")");
        }
        List<Descriptor> out = new ArrayList<>();
        long expected = startLba;
        for (int i = 0; i < count; i++) {
            int d = at + HEADER + i * DESCRIPTOR;
            long lba = b.getLong(d);
            long blocks = b.getUnsignedInt(d + 8);
            int status = b.getByte(d + 12) & 0x0f;
            if (lba < 0 || lba > expected || (i > 0 && lba != expected)) {
                throw new IllegalArgumentException("GET LBA STATUS descriptor " + i + " starts at LBA "
                        + Long.toUnsignedString(lba) + ", expected " + (i == 0 ? "at most " : "") + expected);
            }
            if (blocks == 0 || blocks > maxLba - lba || lba + blocks <= expected) {
                throw new IllegalArgumentException("GET LBA STATUS descriptor " + i + " of " + blocks
                        + " blocks at LBA " + lba + " does not reach from LBA " + expected + " into a unit of "
                        + maxLba + " blocks");
            }
            // The first run may begin before the LBA asked for: keep only its part from there on.
            blocks -= expected - lba;
            lba = expected;
            Descriptor last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && last.status == status) {
                out.set(out.size() - 1, new Descriptor(last.lba, last.blocks + blocks, status));
            } else {
                out.add(new Descriptor(lba, blocks, status));
            }
            expected = lba + blocks;
            if (expected == maxLba) {
                break;
            }
        }
        return out;
    }
}
