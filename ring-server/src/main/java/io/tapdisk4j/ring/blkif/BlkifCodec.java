package io.tapdisk4j.ring.blkif;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static io.tapdisk4j.ring.blkif.BlkifLayout.*;

/**
 * Decodes requests from, and encodes requests and responses into, private memory for one ABI. The fields
 * common to every request type (operation @0, nr_segments/flag/indirect_op @1, handle or nr_segments @2,
 * id) sit at the same offsets in each request form of an ABI, so only the offsets that move are parameters.
 *
 * <p>Decoding never reads shared memory: callers first copy the ring slot into a private segment with one
 * bulk copy, and {@link #decode} refuses a source shorter than a request.
 */
public final class BlkifCodec {

    static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int requestSize;
    private final int idOffset;
    private final int sectorOffset;
    private final int segOffset;
    private final int discardNrSectorsOffset;
    private final int indirectNrSegmentsOffset;
    private final int indirectHandleOffset;
    private final int indirectGrefsOffset;
    private final int responseSize;

    BlkifCodec(int requestSize, int idOffset, int sectorOffset, int segOffset, int discardNrSectorsOffset,
               int indirectNrSegmentsOffset, int indirectHandleOffset, int indirectGrefsOffset, int responseSize) {
        this.requestSize = requestSize;
        this.idOffset = idOffset;
        this.sectorOffset = sectorOffset;
        this.segOffset = segOffset;
        this.discardNrSectorsOffset = discardNrSectorsOffset;
        this.indirectNrSegmentsOffset = indirectNrSegmentsOffset;
        this.indirectHandleOffset = indirectHandleOffset;
        this.indirectGrefsOffset = indirectGrefsOffset;
        this.responseSize = responseSize;
    }

    public int requestSize() {
        return requestSize;
    }

    public int responseSize() {
        return responseSize;
    }

    /**
     * Decodes the request in {@code src} (a private copy of a ring slot) into {@code out}. Only parses: the
     * values are whatever the guest wrote and must be validated. Direct segments are read only up to
     * {@link BlkifLayout#MAX_SEGMENTS_PER_REQUEST} whatever {@code nr_segments} claims.
     *
     * @throws IllegalArgumentException when {@code src} is shorter than a request (truncated input)
     */
    public void decode(MemorySegment src, BlkifRequest out) {
        if (src.byteSize() < requestSize) {
            throw new IllegalArgumentException("truncated blkif request: " + src.byteSize() + " bytes, need " + requestSize);
        }
        out.clear();
        out.operation = src.get(U8, 0) & 0xff;
        out.id = src.get(U64, idOffset);
        switch (out.operation) {
            // FLUSH_DISKCACHE uses the read/write layout: blkfront fills it (nr_segments 0) and blkback
            // takes one with segments as a write after a flush.
            case Blkif.OP_READ, Blkif.OP_WRITE, Blkif.OP_WRITE_BARRIER, Blkif.OP_FLUSH_DISKCACHE -> {
                out.nrSegments = src.get(U8, 1) & 0xff;
                out.handle = src.get(U16, 2) & 0xffff;
                out.sectorNumber = src.get(U64, sectorOffset);
                int n = Math.min(out.nrSegments, MAX_SEGMENTS_PER_REQUEST);
                decodeSegments(src, segOffset, n, out, 0);
            }
            case Blkif.OP_DISCARD -> {
                out.discardFlag = src.get(U8, 1) & 0xff;
                out.handle = src.get(U16, 2) & 0xffff;
                out.sectorNumber = src.get(U64, sectorOffset);
                out.nrSectors = src.get(U64, discardNrSectorsOffset);
            }
            case Blkif.OP_INDIRECT -> {
                out.indirectOp = src.get(U8, 1) & 0xff;
                out.nrSegments = src.get(U16, indirectNrSegmentsOffset) & 0xffff;
                out.sectorNumber = src.get(U64, sectorOffset);
                out.handle = src.get(U16, indirectHandleOffset) & 0xffff;
                for (int i = 0; i < MAX_INDIRECT_PAGES_PER_REQUEST; i++) {
                    out.indirectGrefs[i] = src.get(U32, indirectGrefsOffset + 4L * i);
                }
            }
            default -> {
                // Unknown operations carry only an id.
            }
        }
    }

    /**
     * Decodes {@code count} segments at {@code offset} of {@code src} (a private copy: a request or an
     * indirect page) into {@code out} from index {@code outIndex}.
     */
    public static void decodeSegments(MemorySegment src, long offset, int count, BlkifRequest out, int outIndex) {
        if (outIndex + count > out.capacity() || offset + (long) count * SEGMENT_SIZE > src.byteSize()) {
            throw new IllegalArgumentException("segments do not fit: " + count + " at " + offset);
        }
        for (int i = 0; i < count; i++) {
            long o = offset + (long) i * SEGMENT_SIZE;
            out.gref[outIndex + i] = src.get(U32, o + SEGMENT_GREF);
            out.firstSect[outIndex + i] = src.get(U8, o + SEGMENT_FIRST_SECT);
            out.lastSect[outIndex + i] = src.get(U8, o + SEGMENT_LAST_SECT);
        }
        out.segmentsDecoded = Math.max(out.segmentsDecoded, outIndex + count);
    }

    /** Encodes segments {@code [from, from+count)} of {@code req} at {@code offset} of {@code dst}. */
    public static void encodeSegments(MemorySegment dst, long offset, BlkifRequest req, int from, int count) {
        for (int i = 0; i < count; i++) {
            long o = offset + (long) i * SEGMENT_SIZE;
            dst.set(U32, o + SEGMENT_GREF, req.gref[from + i]);
            dst.set(U8, o + SEGMENT_FIRST_SECT, req.firstSect[from + i]);
            dst.set(U8, o + SEGMENT_LAST_SECT, req.lastSect[from + i]);
            dst.set(U16, o + 6, (short) 0);
        }
    }

    /** Encodes {@code req} as the frontend writes it (zeroing the whole request first). */
    public void encode(BlkifRequest req, MemorySegment dst) {
        dst.asSlice(0, requestSize).fill((byte) 0);
        dst.set(U8, 0, (byte) req.operation);
        dst.set(U64, idOffset, req.id);
        switch (req.operation) {
            case Blkif.OP_DISCARD -> {
                dst.set(U8, 1, (byte) req.discardFlag);
                dst.set(U16, 2, (short) req.handle);
                dst.set(U64, sectorOffset, req.sectorNumber);
                dst.set(U64, discardNrSectorsOffset, req.nrSectors);
            }
            case Blkif.OP_INDIRECT -> {
                dst.set(U8, 1, (byte) req.indirectOp);
                dst.set(U16, indirectNrSegmentsOffset, (short) req.nrSegments);
                dst.set(U64, sectorOffset, req.sectorNumber);
                dst.set(U16, indirectHandleOffset, (short) req.handle);
                for (int i = 0; i < MAX_INDIRECT_PAGES_PER_REQUEST; i++) {
                    dst.set(U32, indirectGrefsOffset + 4L * i, req.indirectGrefs[i]);
                }
            }
            default -> {
                dst.set(U8, 1, (byte) req.nrSegments);
                dst.set(U16, 2, (short) req.handle);
                dst.set(U64, sectorOffset, req.sectorNumber);
                encodeSegments(dst, segOffset, req, 0, Math.min(req.segmentsDecoded, MAX_SEGMENTS_PER_REQUEST));
            }
        }
    }

    /** Encodes a response (id, operation, status; padding zeroed) into {@code dst}. */
    public void encodeResponse(MemorySegment dst, long id, int operation, short status) {
        dst.asSlice(0, responseSize).fill((byte) 0);
        dst.set(U64, 0, id);
        dst.set(U8, 8, (byte) operation);
        dst.set(U16, 10, status);
    }

    /** Response id (the offsets are the same in both ABIs). */
    public long responseId(MemorySegment src) {
        checkResponse(src);
        return src.get(U64, 0);
    }

    public int responseOperation(MemorySegment src) {
        checkResponse(src);
        return src.get(U8, 8) & 0xff;
    }

    public short responseStatus(MemorySegment src) {
        checkResponse(src);
        return src.get(U16, 10);
    }

    private void checkResponse(MemorySegment src) {
        if (src.byteSize() < responseSize) {
            throw new IllegalArgumentException("truncated blkif response: " + src.byteSize() + " bytes, need " + responseSize);
        }
    }
}
