/*
 * Prints every struct size, field offset, constant and ioctl number tapdisk4j's Java side hard-codes,
 * as compiled from the real headers: Xen's public headers (libxen-dev) and Linux's uapi gntdev/evtchn
 * headers (linux-libc-dev). One "key value" line each; XenAbiTest compares them with the Java layouts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/io/ring.h>
#include <xen/io/blkif.h>
#include <xen/io/xs_wire.h>
#include <xen/io/xenbus.h>
#include <xen/gntdev.h>
#include <xen/evtchn.h>

#include "blkif_x86_32.h"

static void put(const char *key, long long value) { printf("%s %lld\n", key, value); }

#define SIZE(T) put("sizeof." #T, (long long) sizeof(struct T))
#define OFF(T, f) put("offsetof." #T "." #f, (long long) offsetof(struct T, f))
#define FSIZE(T, f) put("fieldsize." #T "." #f, (long long) sizeof(((struct T *) 0)->f))
#define CONST(c) put(#c, (long long) (c))

static void hex(const char *key, const void *p, size_t n)
{
    const unsigned char *b = p;
    printf("%s ", key);
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
    printf("\n");
}

static void blkif_x86_64(void)
{
    SIZE(blkif_request_segment);
    OFF(blkif_request_segment, gref);
    OFF(blkif_request_segment, first_sect);
    OFF(blkif_request_segment, last_sect);

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

    put("sizeof.blkif_sring_entry", (long long) sizeof(union blkif_sring_entry));
    OFF(blkif_sring, req_prod);
    OFF(blkif_sring, req_event);
    OFF(blkif_sring, rsp_prod);
    OFF(blkif_sring, rsp_event);
    OFF(blkif_sring, ring);
    FSIZE(blkif_sring, req_prod);
    char key[64];
    for (int order = 0; order <= 4; order++) {
        snprintf(key, sizeof key, "ring_size.blkif.order%d", order);
        put(key, (long long) __CONST_RING_SIZE(blkif, (1 << XEN_PAGE_SHIFT) << order));
        snprintf(key, sizeof key, "ring_size.blkif_x86_32.order%d", order);
        put(key, (long long) __CONST_RING_SIZE(blkif_x86_32, (1 << XEN_PAGE_SHIFT) << order));
    }

    CONST(BLKIF_OP_READ);
    CONST(BLKIF_OP_WRITE);
    CONST(BLKIF_OP_WRITE_BARRIER);
    CONST(BLKIF_OP_FLUSH_DISKCACHE);
    CONST(BLKIF_OP_RESERVED_1);
    CONST(BLKIF_OP_DISCARD);
    CONST(BLKIF_OP_INDIRECT);
    CONST(BLKIF_RSP_OKAY);
    CONST(BLKIF_RSP_ERROR);
    CONST(BLKIF_RSP_EOPNOTSUPP);
    CONST(BLKIF_MAX_SEGMENTS_PER_REQUEST);
    CONST(BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST);
    CONST(BLKIF_DISCARD_SECURE);
    put("SEGS_PER_INDIRECT_FRAME", (long long) ((1 << XEN_PAGE_SHIFT) / sizeof(struct blkif_request_segment)));
    put("XEN_PAGE_SIZE", 1LL << XEN_PAGE_SHIFT);
}

static void blkif_x86_32(void)
{
    SIZE(blkif_x86_32_request);
    OFF(blkif_x86_32_request, operation);
    OFF(blkif_x86_32_request, u.rw.nr_segments);
    OFF(blkif_x86_32_request, u.rw.handle);
    OFF(blkif_x86_32_request, u.rw.id);
    OFF(blkif_x86_32_request, u.rw.sector_number);
    OFF(blkif_x86_32_request, u.rw.seg);
    put("sizeof.blkif_x86_32_request.rw", (long long) (1 + sizeof(struct x86_32_rw)));
    OFF(blkif_x86_32_request, u.discard.flag);
    OFF(blkif_x86_32_request, u.discard.pad1);
    OFF(blkif_x86_32_request, u.discard.id);
    OFF(blkif_x86_32_request, u.discard.sector_number);
    OFF(blkif_x86_32_request, u.discard.nr_sectors);
    put("sizeof.blkif_x86_32_request.discard", (long long) (1 + sizeof(struct x86_32_discard)));
    OFF(blkif_x86_32_request, u.other.id);
    OFF(blkif_x86_32_request, u.indirect.indirect_op);
    OFF(blkif_x86_32_request, u.indirect.nr_segments);
    OFF(blkif_x86_32_request, u.indirect.id);
    OFF(blkif_x86_32_request, u.indirect.sector_number);
    OFF(blkif_x86_32_request, u.indirect.handle);
    OFF(blkif_x86_32_request, u.indirect.indirect_grefs);
    put("sizeof.blkif_x86_32_request.indirect", (long long) (1 + sizeof(struct x86_32_indirect)));
    SIZE(blkif_x86_32_response);
    OFF(blkif_x86_32_response, id);
    OFF(blkif_x86_32_response, operation);
    OFF(blkif_x86_32_response, status);
    put("sizeof.blkif_x86_32_sring_entry", (long long) sizeof(union blkif_x86_32_sring_entry));
    OFF(blkif_x86_32_sring, ring);
}

static void grant_table(void)
{
    SIZE(grant_entry_v1);
    OFF(grant_entry_v1, flags);
    OFF(grant_entry_v1, domid);
    OFF(grant_entry_v1, frame);
    CONST(GTF_invalid);
    CONST(GTF_permit_access);
    CONST(GTF_accept_transfer);
    CONST(GTF_transitive);
    CONST(GTF_type_mask);
    CONST(GTF_readonly);
    CONST(GTF_reading);
    CONST(GTF_writing);
    CONST(GNTST_okay);
    CONST(GNTST_general_error);
    CONST(GNTST_bad_domain);
    CONST(GNTST_bad_gntref);
    CONST(GNTST_bad_handle);
    CONST(GNTST_bad_virt_addr);
    CONST(GNTST_bad_dev_addr);
    CONST(GNTST_no_device_space);
    CONST(GNTST_permission_denied);
    CONST(GNTST_bad_page);
    CONST(GNTST_bad_copy_arg);
    CONST(GNTST_address_too_big);
    CONST(GNTST_eagain);
    CONST(GNTCOPY_source_gref);
    CONST(GNTCOPY_dest_gref);
}

static void gntdev(void)
{
    SIZE(ioctl_gntdev_grant_ref);
    OFF(ioctl_gntdev_grant_ref, domid);
    OFF(ioctl_gntdev_grant_ref, ref);
    SIZE(ioctl_gntdev_map_grant_ref);
    OFF(ioctl_gntdev_map_grant_ref, count);
    OFF(ioctl_gntdev_map_grant_ref, pad);
    OFF(ioctl_gntdev_map_grant_ref, index);
    OFF(ioctl_gntdev_map_grant_ref, refs);
    SIZE(ioctl_gntdev_unmap_grant_ref);
    OFF(ioctl_gntdev_unmap_grant_ref, index);
    OFF(ioctl_gntdev_unmap_grant_ref, count);
    OFF(ioctl_gntdev_unmap_grant_ref, pad);
    SIZE(ioctl_gntdev_get_offset_for_vaddr);
    OFF(ioctl_gntdev_get_offset_for_vaddr, vaddr);
    OFF(ioctl_gntdev_get_offset_for_vaddr, offset);
    OFF(ioctl_gntdev_get_offset_for_vaddr, count);
    OFF(ioctl_gntdev_get_offset_for_vaddr, pad);
    SIZE(ioctl_gntdev_set_max_grants);
    OFF(ioctl_gntdev_set_max_grants, count);
    SIZE(ioctl_gntdev_unmap_notify);
    OFF(ioctl_gntdev_unmap_notify, index);
    OFF(ioctl_gntdev_unmap_notify, action);
    OFF(ioctl_gntdev_unmap_notify, event_channel_port);
    SIZE(gntdev_grant_copy_segment);
    OFF(gntdev_grant_copy_segment, source);
    OFF(gntdev_grant_copy_segment, source.virt);
    OFF(gntdev_grant_copy_segment, source.foreign);
    OFF(gntdev_grant_copy_segment, source.foreign.ref);
    OFF(gntdev_grant_copy_segment, source.foreign.offset);
    OFF(gntdev_grant_copy_segment, source.foreign.domid);
    OFF(gntdev_grant_copy_segment, dest);
    OFF(gntdev_grant_copy_segment, dest.virt);
    OFF(gntdev_grant_copy_segment, dest.foreign);
    OFF(gntdev_grant_copy_segment, dest.foreign.ref);
    OFF(gntdev_grant_copy_segment, dest.foreign.offset);
    OFF(gntdev_grant_copy_segment, dest.foreign.domid);
    OFF(gntdev_grant_copy_segment, len);
    OFF(gntdev_grant_copy_segment, flags);
    OFF(gntdev_grant_copy_segment, status);
    SIZE(ioctl_gntdev_grant_copy);
    OFF(ioctl_gntdev_grant_copy, count);
    OFF(ioctl_gntdev_grant_copy, segments);
    put("IOCTL_GNTDEV_MAP_GRANT_REF", (long long) IOCTL_GNTDEV_MAP_GRANT_REF);
    put("IOCTL_GNTDEV_UNMAP_GRANT_REF", (long long) IOCTL_GNTDEV_UNMAP_GRANT_REF);
    put("IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR", (long long) IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR);
    put("IOCTL_GNTDEV_SET_MAX_GRANTS", (long long) IOCTL_GNTDEV_SET_MAX_GRANTS);
    put("IOCTL_GNTDEV_SET_UNMAP_NOTIFY", (long long) IOCTL_GNTDEV_SET_UNMAP_NOTIFY);
    put("IOCTL_GNTDEV_GRANT_COPY", (long long) IOCTL_GNTDEV_GRANT_COPY);

    /* Two segments with recognisable values, byte for byte as the kernel reads them. */
    struct gntdev_grant_copy_segment seg;
    memset(&seg, 0, sizeof seg);
    seg.source.foreign.ref = 0x01020304;
    seg.source.foreign.offset = 0x0506;
    seg.source.foreign.domid = 0x0708;
    seg.dest.virt = (void *) (uintptr_t) 0x1122334455667000ULL;
    seg.len = 0x0200;
    seg.flags = GNTCOPY_source_gref;
    seg.status = GNTST_general_error;
    hex("bytes.gntdev_grant_copy_segment.from_guest", &seg, sizeof seg);
    memset(&seg, 0, sizeof seg);
    seg.source.virt = (void *) (uintptr_t) 0x1122334455667000ULL;
    seg.dest.foreign.ref = 0x0a0b0c0d;
    seg.dest.foreign.offset = 0x0e00;
    seg.dest.foreign.domid = 0x0001;
    seg.len = 0x0200;
    seg.flags = GNTCOPY_dest_gref;
    seg.status = GNTST_general_error;
    hex("bytes.gntdev_grant_copy_segment.to_guest", &seg, sizeof seg);
}

static void evtchn(void)
{
    SIZE(ioctl_evtchn_bind_virq);
    OFF(ioctl_evtchn_bind_virq, virq);
    SIZE(ioctl_evtchn_bind_interdomain);
    OFF(ioctl_evtchn_bind_interdomain, remote_domain);
    OFF(ioctl_evtchn_bind_interdomain, remote_port);
    SIZE(ioctl_evtchn_bind_unbound_port);
    OFF(ioctl_evtchn_bind_unbound_port, remote_domain);
    SIZE(ioctl_evtchn_unbind);
    OFF(ioctl_evtchn_unbind, port);
    SIZE(ioctl_evtchn_notify);
    OFF(ioctl_evtchn_notify, port);
    SIZE(ioctl_evtchn_restrict_domid);
    OFF(ioctl_evtchn_restrict_domid, domid);
    put("sizeof.evtchn_port_t", (long long) sizeof(evtchn_port_t));
    put("IOCTL_EVTCHN_BIND_VIRQ", (long long) IOCTL_EVTCHN_BIND_VIRQ);
    put("IOCTL_EVTCHN_BIND_INTERDOMAIN", (long long) IOCTL_EVTCHN_BIND_INTERDOMAIN);
    put("IOCTL_EVTCHN_BIND_UNBOUND_PORT", (long long) IOCTL_EVTCHN_BIND_UNBOUND_PORT);
    put("IOCTL_EVTCHN_UNBIND", (long long) IOCTL_EVTCHN_UNBIND);
    put("IOCTL_EVTCHN_NOTIFY", (long long) IOCTL_EVTCHN_NOTIFY);
    put("IOCTL_EVTCHN_RESET", (long long) IOCTL_EVTCHN_RESET);
    put("IOCTL_EVTCHN_RESTRICT_DOMID", (long long) IOCTL_EVTCHN_RESTRICT_DOMID);
}

static void xenstore(void)
{
    SIZE(xsd_sockmsg);
    OFF(xsd_sockmsg, type);
    OFF(xsd_sockmsg, req_id);
    OFF(xsd_sockmsg, tx_id);
    OFF(xsd_sockmsg, len);
    CONST(XENSTORE_PAYLOAD_MAX);
    CONST(XENSTORE_ABS_PATH_MAX);
    CONST(XENSTORE_REL_PATH_MAX);
    CONST(XS_CONTROL);
    CONST(XS_DIRECTORY);
    CONST(XS_READ);
    CONST(XS_GET_PERMS);
    CONST(XS_WATCH);
    CONST(XS_UNWATCH);
    CONST(XS_TRANSACTION_START);
    CONST(XS_TRANSACTION_END);
    CONST(XS_INTRODUCE);
    CONST(XS_RELEASE);
    CONST(XS_GET_DOMAIN_PATH);
    CONST(XS_WRITE);
    CONST(XS_MKDIR);
    CONST(XS_RM);
    CONST(XS_SET_PERMS);
    CONST(XS_WATCH_EVENT);
    CONST(XS_ERROR);
    CONST(XS_IS_DOMAIN_INTRODUCED);
    CONST(XS_RESUME);
    CONST(XS_SET_TARGET);
    CONST(XS_RESET_WATCHES);
    CONST(XS_DIRECTORY_PART);
    CONST(XenbusStateUnknown);
    CONST(XenbusStateInitialising);
    CONST(XenbusStateInitWait);
    CONST(XenbusStateInitialised);
    CONST(XenbusStateConnected);
    CONST(XenbusStateClosing);
    CONST(XenbusStateClosed);
    CONST(XenbusStateReconfiguring);
    CONST(XenbusStateReconfigured);
}

int main(void)
{
    blkif_x86_64();
    blkif_x86_32();
    grant_table();
    gntdev();
    evtchn();
    xenstore();
    return 0;
}
