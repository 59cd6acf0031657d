package io.tapdisk4j.ring.blkif;

/**
 * Every blkif struct size and field offset the codecs use, per ABI, as plain constants so that a C program
 * compiled against {@code xen/io/blkif.h} (x86_64) and Linux xen-blkback's {@code common.h} (the
 * {@code blkif_x86_32_*} structs, packed to 4 bytes) can check each one with {@code offsetof}/{@code sizeof}.
 *
 * <p>Naming: {@code X86_64_} or {@code X86_32_}, then the struct ({@code REQUEST}, {@code DISCARD},
 * {@code INDIRECT}, {@code RESPONSE}, {@code SEGMENT}), then {@code SIZE} or the field name.
 * The segment layout is the same in both ABIs.
 */
public final class BlkifLayout {

    public static final int PAGE_SIZE = 4096;
    public static final int SECTOR_SIZE = 512;
    public static final int SECTORS_PER_PAGE = PAGE_SIZE / SECTOR_SIZE;

    /** BLKIF_MAX_SEGMENTS_PER_REQUEST. */
    public static final int MAX_SEGMENTS_PER_REQUEST = 11;
    /** BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST. */
    public static final int MAX_INDIRECT_PAGES_PER_REQUEST = 8;
    /** Segments in one indirect page: PAGE_SIZE / sizeof(struct blkif_request_segment). */
    public static final int SEGMENTS_PER_INDIRECT_FRAME = 512;

    // struct blkif_request_segment (both ABIs)
    public static final int SEGMENT_SIZE = 8;
    public static final int SEGMENT_GREF = 0;
    public static final int SEGMENT_FIRST_SECT = 4;
    public static final int SEGMENT_LAST_SECT = 5;

    // struct blkif_request (x86_64)
    public static final int X86_64_REQUEST_SIZE = 112;
    public static final int X86_64_REQUEST_OPERATION = 0;
    public static final int X86_64_REQUEST_NR_SEGMENTS = 1;
    public static final int X86_64_REQUEST_HANDLE = 2;
    public static final int X86_64_REQUEST_ID = 8;
    public static final int X86_64_REQUEST_SECTOR_NUMBER = 16;
    public static final int X86_64_REQUEST_SEG = 24;

    // struct blkif_request_discard (x86_64)
    public static final int X86_64_DISCARD_SIZE = 32;
    public static final int X86_64_DISCARD_OPERATION = 0;
    public static final int X86_64_DISCARD_FLAG = 1;
    public static final int X86_64_DISCARD_HANDLE = 2;
    public static final int X86_64_DISCARD_ID = 8;
    public static final int X86_64_DISCARD_SECTOR_NUMBER = 16;
    public static final int X86_64_DISCARD_NR_SECTORS = 24;

    // struct blkif_request_indirect (x86_64)
    public static final int X86_64_INDIRECT_SIZE = 64;
    public static final int X86_64_INDIRECT_OPERATION = 0;
    public static final int X86_64_INDIRECT_INDIRECT_OP = 1;
    public static final int X86_64_INDIRECT_NR_SEGMENTS = 2;
    public static final int X86_64_INDIRECT_ID = 8;
    public static final int X86_64_INDIRECT_SECTOR_NUMBER = 16;
    public static final int X86_64_INDIRECT_HANDLE = 24;
    public static final int X86_64_INDIRECT_INDIRECT_GREFS = 28;

    // struct blkif_response (x86_64)
    public static final int X86_64_RESPONSE_SIZE = 16;
    public static final int X86_64_RESPONSE_ID = 0;
    public static final int X86_64_RESPONSE_OPERATION = 8;
    public static final int X86_64_RESPONSE_STATUS = 10;

    /** sizeof(union blkif_sring_entry) for x86_64. */
    public static final int X86_64_RING_ENTRY_SIZE = 112;

    // struct blkif_x86_32_request (Linux common.h, packed): operation, then the union at offset 1
    public static final int X86_32_REQUEST_SIZE = 108;
    public static final int X86_32_REQUEST_OPERATION = 0;
    public static final int X86_32_REQUEST_NR_SEGMENTS = 1;
    public static final int X86_32_REQUEST_HANDLE = 2;
    public static final int X86_32_REQUEST_ID = 4;
    public static final int X86_32_REQUEST_SECTOR_NUMBER = 12;
    public static final int X86_32_REQUEST_SEG = 20;

    // discard member of struct blkif_x86_32_request
    public static final int X86_32_DISCARD_SIZE = 28;
    public static final int X86_32_DISCARD_OPERATION = 0;
    public static final int X86_32_DISCARD_FLAG = 1;
    public static final int X86_32_DISCARD_HANDLE = 2;
    public static final int X86_32_DISCARD_ID = 4;
    public static final int X86_32_DISCARD_SECTOR_NUMBER = 12;
    public static final int X86_32_DISCARD_NR_SECTORS = 20;

    // indirect member of struct blkif_x86_32_request (ends with a u64 pad to 64 bytes)
    public static final int X86_32_INDIRECT_SIZE = 64;
    public static final int X86_32_INDIRECT_OPERATION = 0;
    public static final int X86_32_INDIRECT_INDIRECT_OP = 1;
    public static final int X86_32_INDIRECT_NR_SEGMENTS = 2;
    public static final int X86_32_INDIRECT_ID = 4;
    public static final int X86_32_INDIRECT_SECTOR_NUMBER = 12;
    public static final int X86_32_INDIRECT_HANDLE = 20;
    public static final int X86_32_INDIRECT_INDIRECT_GREFS = 24;

    // struct blkif_x86_32_response (pack(4): the u64 id does not force 8-byte alignment)
    public static final int X86_32_RESPONSE_SIZE = 12;
    public static final int X86_32_RESPONSE_ID = 0;
    public static final int X86_32_RESPONSE_OPERATION = 8;
    public static final int X86_32_RESPONSE_STATUS = 10;

    /** sizeof(union blkif_x86_32_sring_entry). */
    public static final int X86_32_RING_ENTRY_SIZE = 108;

    // struct blkif_sring header (xen/io/ring.h), same in both ABIs
    public static final int SRING_REQ_PROD = 0;
    public static final int SRING_REQ_EVENT = 4;
    public static final int SRING_RSP_PROD = 8;
    public static final int SRING_RSP_EVENT = 12;
    /** offsetof(struct blkif_sring, ring). */
    public static final int SRING_RING = 64;

    private BlkifLayout() {
    }
}
