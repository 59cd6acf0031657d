/*
 * The x86_32 ("x86_32-abi") blkif request and response as a 64-bit dom0 backend must read them.
 * Xen's public blkif.h only describes the ABI of the compiler in use, so Linux xen-blkback (common.h)
 * spells the i386 layout out with packed structs: the operation byte, then a union whose members place
 * the 64-bit id at offset 4 (i386 aligns u64 to 4). This header states the same layout independently
 * for the ABI test; abi_check_i386.c cross-checks it against a real -m32 compile of Xen's header.
 */
#ifndef TAPDISK4J_BLKIF_X86_32_H
#define TAPDISK4J_BLKIF_X86_32_H

#include <stdint.h>
#include <xen/io/ring.h>
#include <xen/io/blkif.h>

struct x86_32_rw {
    uint8_t nr_segments;
    blkif_vdev_t handle;
    uint64_t id;
    blkif_sector_t sector_number;
    struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
} __attribute__((__packed__));

struct x86_32_discard {
    uint8_t flag;
    blkif_vdev_t pad1;
    uint64_t id;
    blkif_sector_t sector_number;
    uint64_t nr_sectors;
} __attribute__((__packed__));

struct x86_32_other {
    uint8_t pad1;
    blkif_vdev_t pad2;
    uint64_t id;
} __attribute__((__packed__));

struct x86_32_indirect {
    uint8_t indirect_op;
    uint16_t nr_segments;
    uint64_t id;
    blkif_sector_t sector_number;
    blkif_vdev_t handle;
    uint16_t pad1;
    grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
    uint64_t pad2; /* the whole request stays 64 bytes, as in x86_64 */
} __attribute__((__packed__));

struct blkif_x86_32_request {
    uint8_t operation;
    union {
        struct x86_32_rw rw;
        struct x86_32_discard discard;
        struct x86_32_other other;
        struct x86_32_indirect indirect;
    } u;
} __attribute__((__packed__));

/* i386 aligns the u64 id to 4: status stays at 10 and the struct is 12 bytes. */
#pragma pack(push, 4)
struct blkif_x86_32_response {
    uint64_t id;
    uint8_t operation;
    int16_t status;
};
#pragma pack(pop)

DEFINE_RING_TYPES(blkif_x86_32, struct blkif_x86_32_request, struct blkif_x86_32_response);

#endif
