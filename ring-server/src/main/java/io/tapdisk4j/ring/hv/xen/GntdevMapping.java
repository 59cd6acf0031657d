package io.tapdisk4j.ring.hv.xen;

import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantMapping;
import io.tapdisk4j.ring.hv.GrantStatus;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicBoolean;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Grants mapped through gntdev: IOCTL_GNTDEV_MAP_GRANT_REF reserves an offset ("index") in the device for
 * the refs, mmap of that offset maps them (the hypervisor call happens there), and close does munmap plus
 * IOCTL_GNTDEV_UNMAP_GRANT_REF. The page segments belong to a shared arena closed first, so a use after
 * unmap throws instead of touching memory the guest may have reused.
 */
final class GntdevMapping implements GrantMapping {

    private static final Logger LOG = LoggerFactory.getLogger(GntdevMapping.class);
    private static final int PAGE = GntdevAbi.XEN_PAGE_SIZE;

    private final DeviceFd gntdev;
    private final Runnable onClose;
    private final long index;
    private final int count;
    private final long address;
    private final Arena arena;
    private final MemorySegment[] pages;
    private final AtomicBoolean closed = new AtomicBoolean();

    private GntdevMapping(DeviceFd gntdev, long index, int count, long address, boolean readOnly,
                          Runnable onClose) {
        this.gntdev = gntdev;
        this.onClose = onClose;
        this.index = index;
        this.count = count;
        this.address = address;
        this.arena = Arena.ofShared();
        MemorySegment all = MemorySegment.ofAddress(address).reinterpret((long) count * PAGE, arena, null);
        this.pages = new MemorySegment[count];
        for (int i = 0; i < count; i++) {
            MemorySegment page = all.asSlice((long) i * PAGE, PAGE);
            // A store to a PROT_READ page would kill the JVM with SIGSEGV; a read-only segment throws instead.
            pages[i] = readOnly ? page.asReadOnly() : page;
        }
    }

    /** Maps the grants; {@code onClose} runs once the mapping is closed. */
    static GntdevMapping map(DeviceFd gntdev, int domid, int[] refs, boolean readOnly, Runnable onClose)
            throws GrantException {
        if (refs.length == 0) {
            throw new IllegalArgumentException("no grants to map");
        }
        long index;
        try (Arena call = Arena.ofConfined()) {
            MemorySegment arg = call.allocate(GntdevAbi.mapGrantRefSize(refs.length), 8);
            arg.set(ValueLayout.JAVA_INT, GntdevAbi.MAP_COUNT, refs.length);
            for (int i = 0; i < refs.length; i++) {
                long at = GntdevAbi.MAP_REFS + i * GntdevAbi.GRANT_REF.byteSize();
                arg.set(ValueLayout.JAVA_INT, at + GntdevAbi.REF_DOMID, domid);
                arg.set(ValueLayout.JAVA_INT, at + GntdevAbi.REF_REF, refs[i]);
            }
            int r = gntdev.ioctl(GntdevAbi.IOCTL_GNTDEV_MAP_GRANT_REF, arg);
            if (r < 0) {
                throw new GrantException(GrantStatus.GENERAL_ERROR, "IOCTL_GNTDEV_MAP_GRANT_REF of " + refs.length
                        + " grants of domain " + domid + " failed: " + DeviceFd.describe(r));
            }
            index = arg.get(ValueLayout.JAVA_LONG, GntdevAbi.MAP_INDEX);
        }
        long length = (long) refs.length * PAGE;
        int prot = readOnly ? Libc.PROT_READ : Libc.PROT_READ | Libc.PROT_WRITE;
        long address = gntdev.mmap(length, prot, index);
        if (address == -1L || address == DeviceFd.CLOSED) {
            String why = DeviceFd.describe(address == -1L ? -1 : DeviceFd.CLOSED);
            unmapIndex(gntdev, index, refs.length);
            // gntdev maps every grant at mmap time and fails the whole range if any grant is refused.
            throw new GrantException(GrantStatus.GENERAL_ERROR, "mapping " + refs.length + " grants of domain "
                    + domid + " failed: " + why);
        }
        return new GntdevMapping(gntdev, index, refs.length, address, readOnly, onClose);
    }

    private static void unmapIndex(DeviceFd gntdev, long index, int count) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment arg = call.allocate(GntdevAbi.UNMAP_GRANT_REF);
            arg.set(ValueLayout.JAVA_LONG, GntdevAbi.UNMAP_INDEX, index);
            arg.set(ValueLayout.JAVA_INT, GntdevAbi.UNMAP_COUNT, count);
            int r = gntdev.ioctl(GntdevAbi.IOCTL_GNTDEV_UNMAP_GRANT_REF, arg);
            if (r < 0 && r != DeviceFd.CLOSED) {
                LOG.warn("IOCTL_GNTDEV_UNMAP_GRANT_REF index {} count {} failed: {}", index, count,
                        DeviceFd.describe(r));
            }
        }
    }

    @Override
    public int pageCount() {
        return count;
    }

    @Override
    public MemorySegment page(int i) {
        return pages[i];
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        arena.close();
        if (Libc.munmap(address, (long) count * PAGE) < 0) {
            LOG.warn("munmap of {} granted pages failed: {}", count, Libc.describe(Libc.errno()));
        }
        // Closing the device (hypervisor close) releases every grant it still holds, so a closed fd is fine.
        unmapIndex(gntdev, index, count);
        onClose.run();
    }
}
