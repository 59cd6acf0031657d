package io.tapdisk4j.ring.hv.xen;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.StructLayout;
import java.lang.foreign.UnionLayout;
import java.lang.foreign.ValueLayout;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The /dev/xen/gntdev ABI of Linux's uapi header xen/gntdev.h, as FFM layouts with the header's field
 * names, and its ioctl numbers derived from those layouts exactly as the header's _IOC() does. The ABI
 * test compiles a C program against the real header and compares every size, offset and number.
 */
public final class GntdevAbi {

    /** struct ioctl_gntdev_grant_ref. */
    public static final StructLayout GRANT_REF = MemoryLayout.structLayout(
            JAVA_INT.withName("domid"),
            JAVA_INT.withName("ref")).withName("ioctl_gntdev_grant_ref");

    /** struct ioctl_gntdev_map_grant_ref, with the header's one-element refs[] (the ioctl size uses it). */
    public static final StructLayout MAP_GRANT_REF = MemoryLayout.structLayout(
            JAVA_INT.withName("count"),
            JAVA_INT.withName("pad"),
            JAVA_LONG.withName("index"),
            MemoryLayout.sequenceLayout(1, GRANT_REF).withName("refs")).withName("ioctl_gntdev_map_grant_ref");

    /** struct ioctl_gntdev_unmap_grant_ref. */
    public static final StructLayout UNMAP_GRANT_REF = MemoryLayout.structLayout(
            JAVA_LONG.withName("index"),
            JAVA_INT.withName("count"),
            JAVA_INT.withName("pad")).withName("ioctl_gntdev_unmap_grant_ref");

    /** struct ioctl_gntdev_get_offset_for_vaddr. */
    public static final StructLayout GET_OFFSET_FOR_VADDR = MemoryLayout.structLayout(
            JAVA_LONG.withName("vaddr"),
            JAVA_LONG.withName("offset"),
            JAVA_INT.withName("count"),
            JAVA_INT.withName("pad")).withName("ioctl_gntdev_get_offset_for_vaddr");

    /** struct ioctl_gntdev_set_max_grants. */
    public static final StructLayout SET_MAX_GRANTS = MemoryLayout.structLayout(
            JAVA_INT.withName("count")).withName("ioctl_gntdev_set_max_grants");

    /** struct ioctl_gntdev_unmap_notify. */
    public static final StructLayout UNMAP_NOTIFY = MemoryLayout.structLayout(
            JAVA_LONG.withName("index"),
            JAVA_INT.withName("action"),
            JAVA_INT.withName("event_channel_port")).withName("ioctl_gntdev_unmap_notify");

    /** The foreign side of a copy segment: {grant_ref_t ref; u16 offset; domid_t domid}. */
    public static final StructLayout COPY_FOREIGN = MemoryLayout.structLayout(
            JAVA_INT.withName("ref"),
            JAVA_SHORT.withName("offset"),
            JAVA_SHORT.withName("domid")).withName("foreign");

    /** One side of a copy segment: a local virtual address or a foreign grant. */
    public static final UnionLayout COPY_SIDE = MemoryLayout.unionLayout(
            ValueLayout.ADDRESS.withName("virt"),
            COPY_FOREIGN);

    /** struct gntdev_grant_copy_segment (24 bytes). */
    public static final StructLayout COPY_SEGMENT = MemoryLayout.structLayout(
            COPY_SIDE.withName("source"),
            COPY_SIDE.withName("dest"),
            JAVA_SHORT.withName("len"),
            JAVA_SHORT.withName("flags"),
            JAVA_SHORT.withName("status"),
            MemoryLayout.paddingLayout(2)).withName("gntdev_grant_copy_segment");

    /** struct ioctl_gntdev_grant_copy: {unsigned int count; struct gntdev_grant_copy_segment *segments}. */
    public static final StructLayout GRANT_COPY = MemoryLayout.structLayout(
            JAVA_INT.withName("count"),
            MemoryLayout.paddingLayout(4),
            ValueLayout.ADDRESS.withName("segments")).withName("ioctl_gntdev_grant_copy");

    public static final long IOCTL_GNTDEV_MAP_GRANT_REF = Ioc.none('G', 0, MAP_GRANT_REF.byteSize());
    public static final long IOCTL_GNTDEV_UNMAP_GRANT_REF = Ioc.none('G', 1, UNMAP_GRANT_REF.byteSize());
    public static final long IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR = Ioc.none('G', 2, GET_OFFSET_FOR_VADDR.byteSize());
    public static final long IOCTL_GNTDEV_SET_MAX_GRANTS = Ioc.none('G', 3, SET_MAX_GRANTS.byteSize());
    public static final long IOCTL_GNTDEV_SET_UNMAP_NOTIFY = Ioc.none('G', 7, UNMAP_NOTIFY.byteSize());
    public static final long IOCTL_GNTDEV_GRANT_COPY = Ioc.none('G', 8, GRANT_COPY.byteSize());

    /** GNTCOPY_* flags of xen/grant_table.h: which side of a copy segment is a grant. */
    public static final int GNTCOPY_SOURCE_GREF = 1;
    public static final int GNTCOPY_DEST_GREF = 2;

    /** Xen's page size; gntdev maps and a copy's foreign side never cross it. */
    public static final int XEN_PAGE_SIZE = 4096;

    // Offsets used on the hot path, resolved once from the layouts.
    static final long MAP_COUNT = MAP_GRANT_REF.byteOffset(PathElement.groupElement("count"));
    static final long MAP_INDEX = MAP_GRANT_REF.byteOffset(PathElement.groupElement("index"));
    static final long MAP_REFS = MAP_GRANT_REF.byteOffset(PathElement.groupElement("refs"));
    static final long REF_DOMID = GRANT_REF.byteOffset(PathElement.groupElement("domid"));
    static final long REF_REF = GRANT_REF.byteOffset(PathElement.groupElement("ref"));
    static final long UNMAP_INDEX = UNMAP_GRANT_REF.byteOffset(PathElement.groupElement("index"));
    static final long UNMAP_COUNT = UNMAP_GRANT_REF.byteOffset(PathElement.groupElement("count"));
    static final long SEG_SOURCE = COPY_SEGMENT.byteOffset(PathElement.groupElement("source"));
    static final long SEG_DEST = COPY_SEGMENT.byteOffset(PathElement.groupElement("dest"));
    static final long SIDE_VIRT = COPY_SIDE.byteOffset(PathElement.groupElement("virt"));
    static final long SIDE_REF = COPY_SIDE.byteOffset(PathElement.groupElement("foreign"), PathElement.groupElement("ref"));
    static final long SIDE_OFFSET = COPY_SIDE.byteOffset(PathElement.groupElement("foreign"),
            PathElement.groupElement("offset"));
    static final long SIDE_DOMID = COPY_SIDE.byteOffset(PathElement.groupElement("foreign"),
            PathElement.groupElement("domid"));
    static final long SEG_LEN = COPY_SEGMENT.byteOffset(PathElement.groupElement("len"));
    static final long SEG_FLAGS = COPY_SEGMENT.byteOffset(PathElement.groupElement("flags"));
    static final long SEG_STATUS = COPY_SEGMENT.byteOffset(PathElement.groupElement("status"));
    static final long COPY_COUNT = GRANT_COPY.byteOffset(PathElement.groupElement("count"));
    static final long COPY_SEGMENTS = GRANT_COPY.byteOffset(PathElement.groupElement("segments"));

    private GntdevAbi() {
    }

    /** Bytes of an ioctl_gntdev_map_grant_ref carrying {@code count} refs. */
    public static long mapGrantRefSize(int count) {
        return MAP_REFS + GRANT_REF.byteSize() * Math.max(1, count);
    }
}
