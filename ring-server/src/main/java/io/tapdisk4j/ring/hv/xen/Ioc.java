package io.tapdisk4j.ring.hv.xen;

/**
 * Linux ioctl request numbers (asm-generic/ioctl.h): {@code dir << 30 | size << 16 | type << 8 | nr}.
 * Xen's device ioctls all use direction _IOC_NONE with the argument struct's size.
 */
public final class Ioc {
    public static final int IOC_NONE = 0;
    private static final int NRSHIFT = 0;
    private static final int TYPESHIFT = 8;
    private static final int SIZESHIFT = 16;
    private static final int DIRSHIFT = 30;
    private static final long SIZEMASK = (1 << 14) - 1;

    private Ioc() {
    }

    /** _IOC(_IOC_NONE, type, nr, size). */
    public static long none(char type, int nr, long size) {
        if (size < 0 || size > SIZEMASK) {
            throw new IllegalArgumentException("ioctl argument size " + size + " does not fit 14 bits");
        }
        return ((long) IOC_NONE << DIRSHIFT) | (size << SIZESHIFT) | ((long) type << TYPESHIFT) | ((long) nr << NRSHIFT);
    }
}
