package io.tapdisk4j.ring.hv.xen;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * An open Xen device file descriptor shared by many users (batches, mappings, channels). Every call holds
 * the read lock and close takes the write lock, so no ioctl can ever reach a descriptor number the process
 * has since closed and reused for another file.
 */
final class DeviceFd {

    /** Returned instead of a result when the descriptor is already closed. */
    static final int CLOSED = Integer.MIN_VALUE;

    private final String path;
    private final int fd;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed;

    DeviceFd(String path, int fd) {
        this.path = path;
        this.fd = fd;
    }

    String path() {
        return path;
    }

    /** The raw descriptor, for poll/read/write by the one thread that owns them until close. */
    int raw() {
        return fd;
    }

    /** ioctl, or {@link #CLOSED}; on a negative result the errno is in {@link Libc#errno()}. */
    int ioctl(long request, MemorySegment arg) {
        lock.readLock().lock();
        try {
            return closed ? CLOSED : Libc.ioctl(fd, request, arg);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** mmap of this descriptor: the address, -1 (MAP_FAILED, errno set) or {@link #CLOSED}. */
    long mmap(long length, int prot, long offset) {
        lock.readLock().lock();
        try {
            return closed ? CLOSED : Libc.mmap(length, prot, Libc.MAP_SHARED, fd, offset);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** What a failed call returned, as text: "closed" or the errno. */
    static String describe(int result) {
        return result == CLOSED ? "the device is closed" : Libc.describe(Libc.errno());
    }

    boolean isClosed() {
        lock.readLock().lock();
        try {
            return closed;
        } finally {
            lock.readLock().unlock();
        }
    }

    void close() {
        lock.writeLock().lock();
        try {
            if (!closed) {
                closed = true;
                Libc.close(fd);
            }
        } finally {
            lock.writeLock().unlock();
        }
    }
}
