/*
 * The x86_32 blkif ABI as a 32-bit guest really compiles Xen's blkif.h: built with gcc -m32 -S
 * (freestanding, so no 32-bit libc is needed) and never run. Each value is emitted into the assembly
 * as a line  "@abi <key> <value>"  through an immediate asm operand; XenAbiTest reads them from the .s file.
 */
#include <stddef.h>
#include <stdint.h>
#include <xen/io/ring.h>
#include <xen/io/blkif.h>

#define EMIT(key, value) __asm__ volatile("\n@abi " key " %c0" : : "i"((long) (value)))
#define SIZE(T) EMIT("i386.sizeof." #T, sizeof(struct T))
#define OFF(T, f) EMIT("i386.offsetof." #T "." #f, offsetof(struct T, f))

void abi(void);

void abi(void)
{
    EMIT("i386.sizeof.long", sizeof(long));
    SIZE(blkif_request_segment);
    SIZE(blkif_request);
    OFF(blkif_request, operation);
    OFF(blkif_request, nr_segments);
    OFF(blkif_request, handle);
    OFF(blkif_request, id);
    OFF(blkif_request, sector_number);
    OFF(blkif_request, seg);
    SIZE(blkif_request_discard);
    OFF(blkif_request_discard, operation);
    OFF(blkif_request_discard, flag);
    OFF(blkif_request_discard, handle);
    OFF(blkif_request_discard, id);
    OFF(blkif_request_discard, sector_number);
    OFF(blkif_request_discard, nr_sectors);
    SIZE(blkif_request_indirect);
    OFF(blkif_request_indirect, operation);
    OFF(blkif_request_indirect, indirect_op);
    OFF(blkif_request_indirect, nr_segments);
    OFF(blkif_request_indirect, id);
    OFF(blkif_request_indirect, sector_number);
    OFF(blkif_request_indirect, handle);
    OFF(blkif_request_indirect, indirect_grefs);
    SIZE(blkif_response);
    OFF(blkif_response, id);
    OFF(blkif_response, operation);
    OFF(blkif_response, status);
    EMIT("i386.sizeof.blkif_sring_entry", sizeof(union blkif_sring_entry));
    OFF(blkif_sring, req_prod);
    OFF(blkif_sring, req_event);
    OFF(blkif_sring, rsp_prod);
    OFF(blkif_sring, rsp_event);
    OFF(blkif_sring, ring);
    EMIT("i386.ring_size.blkif.order0", __CONST_RING_SIZE(blkif, 4096));
    EMIT("i386.ring_size.blkif.order4", __CONST_RING_SIZE(blkif, 4096 << 4));
}
