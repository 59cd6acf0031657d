package io.tapdisk4j.block.local;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * A file descriptor and the Linux calls a disk image needs (pread, pwrite, fdatasync, fallocate,
 * lseek SEEK_DATA/SEEK_HOLE), through the FFM API. FileChannel offers neither O_DIRECT on every JDK nor
 * hole punching nor SEEK_DATA, which a thin image and NBD block status need.
 */
public final class LinuxFile implements AutoCloseable {

    public static final int O_RDONLY = 0;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_EXCL = 0200;
    public static final int O_DIRECT = 040000;
    public static final int O_CLOEXEC = 02000000;

    static final int FALLOC_FL_KEEP_SIZE = 1;
    static final int FALLOC_FL_PUNCH_HOLE = 2;
    static final int FALLOC_FL_ZERO_RANGE = 0x10;
    static final int SEEK_END = 2;
    static final int SEEK_DATA = 3;
    static final int SEEK_HOLE = 4;
    static final int ENXIO = 6;
    static final int EINTR = 4;
    static final int EAGAIN = 11;
    static final int EOPNOTSUPP = 95;
    static final int RWF_NOWAIT = 0x8;
    static final int ENOSYS = 38;
    static final long SYS_CACHESTAT = 451; // x86_64 and aarch64 alike (Linux 6.5)

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(StructLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CCS = Linker.Option.captureCallState("errno");

    // One holder class per call: a downcall handle costs a generated stub and several lambda forms (tens of
    // milliseconds at start-up, none of it in the AOT cache), so each is made the first time it is used, while
    // the static final field keeps the call as fast as an eager one.
    private static final class Open {
        static final MethodHandle H = handle("open",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
                CCS, Linker.Option.firstVariadicArg(2));
    }
    private static final class Pread {
        static final MethodHandle H = handle("pread",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_LONG), CCS);
    }
    private static final class Pwrite {
        static final MethodHandle H = handle("pwrite",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_LONG), CCS);
    }
    private static final class Preadv2 {
        static final MethodHandle H = handle("preadv2",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT,
                        ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT), CCS);
    }
    private static final class Fdatasync {
        static final MethodHandle H = handle("fdatasync",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT), CCS);
    }
    private static final class Fallocate {
        static final MethodHandle H = handle("fallocate",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_LONG), CCS);
    }
    private static final class Ftruncate {
        static final MethodHandle H = handle("ftruncate",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG), CCS);
    }
    private static final class Lseek {
        static final MethodHandle H = handle("lseek",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT),
                CCS);
    }
    /** syscall(2): glibc has no cachestat wrapper before 2.39. */
    private static final class Syscall4 {
        static final MethodHandle H = handle("syscall",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG), CCS, Linker.Option.firstVariadicArg(1));
    }
    /** fcntl(fd, cmd, struct flock *): for open file description (OFD) locks. */
    private static final class Fcntl {
        static final MethodHandle H = handle("fcntl",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS),
                CCS, Linker.Option.firstVariadicArg(2));
    }
    static final int F_OFD_SETLK = 37;
    /** copy_file_range(in, off_in*, out, off_out*, len, flags): the kernel copies, no data through user space. */
    private static final class CopyFileRange {
        static final MethodHandle H = handle("copy_file_range",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT), CCS);
    }
    static final short F_WRLCK = 1;
    /** sync_file_range(fd, offset, nbytes, flags). */
    private static final class SyncFileRange {
        static final MethodHandle H = handle("sync_file_range",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_INT), CCS);
    }
    static final int SYNC_FILE_RANGE_WRITE = 2;
    private static final class Close {
        static final MethodHandle H = handle("close",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }
    private static final class Page {
        static final long SIZE = pageSize();
    }

    private static final ThreadLocal<MemorySegment> STATE =
            ThreadLocal.withInitial(() -> Arena.global().allocate(CAPTURE));
    /** One struct iovec {void *base; size_t len} per thread, for preadv2. */
    private static final ThreadLocal<MemorySegment> IOVEC =
            ThreadLocal.withInitial(() -> Arena.global().allocate(16, 8));
    /**
     * Per thread: struct cachestat_range {u64 off, len} then struct cachestat {u64 nr_cache, nr_dirty,
     * nr_writeback, nr_evicted, nr_recently_evicted}.
     */
    private static final ThreadLocal<MemorySegment> CACHESTAT =
            ThreadLocal.withInitial(() -> Arena.global().allocate(16 + 40, 8));
    private static volatile boolean cachestatUnsupported;
    private volatile boolean cachestatRefused;
    private volatile boolean noWaitUnsupported;

    private final String path;
    private final int fd;
    private volatile boolean closed;

    private LinuxFile(String path, int fd) {
        this.path = path;
        this.fd = fd;
    }

    private static long pageSize() {
        try {
            long n = (long) handle("sysconf", FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT))
                    .invokeExact(30); // _SC_PAGESIZE
            return n > 0 ? n : 4096;
        } catch (Throwable t) {
            return 4096;
        }
    }

    private static MethodHandle handle(String name, FunctionDescriptor fd, Linker.Option... options) {
        MemorySegment addr = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new IllegalStateException("libc has no " + name));
        return LINKER.downcallHandle(addr, fd, options);
    }

    public static LinuxFile open(String path, int flags, int mode) throws BlockDeviceException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = STATE.get();
            int fd = (int) Open.H.invokeExact(state, arena.allocateFrom(path), flags | O_CLOEXEC, mode);
            if (fd < 0) {
                throw error("open", path, errno(state));
            }
            return new LinuxFile(path, fd);
        } catch (BlockDeviceException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public String path() {
        return path;
    }

    /**
     * Takes a write lock on {@code [start, start+length)} that belongs to this open file description (an OFD
     * lock: not shared by other opens in this process, not lost when another descriptor of the file closes, and
     * released by the kernel when the holder dies). Returns false when another open holds a conflicting lock.
     */
    public boolean tryWriteLock(long start, long length) throws BlockDeviceException {
        try (Arena arena = Arena.ofConfined()) {
            // struct flock on LP64: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid (0 for OFD).
            MemorySegment flock = arena.allocate(32, 8);
            flock.set(ValueLayout.JAVA_SHORT, 0, F_WRLCK);
            flock.set(ValueLayout.JAVA_SHORT, 2, (short) 0); // SEEK_SET
            flock.set(ValueLayout.JAVA_LONG, 8, start);
            flock.set(ValueLayout.JAVA_LONG, 16, length);
            MemorySegment state = STATE.get();
            int r = (int) Fcntl.H.invokeExact(state, fd, F_OFD_SETLK, flock);
            if (r == 0) {
                return true;
            }
            int e = errno(state);
            if (e == EAGAIN || e == 13) { // EACCES: some file systems answer a conflict so
                return false;
            }
            throw error("fcntl(F_OFD_SETLK)", path, e);
        } catch (BlockDeviceException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * Copies {@code length} bytes at {@code offset} of this file to the same offset of {@code target} inside the
     * kernel. Returns false, having copied nothing, when the kernel or the file systems cannot (EXDEV before
     * Linux 5.19, ENOSYS, EOPNOTSUPP, EINVAL): the caller copies through memory instead.
     */
    public boolean copyRangeTo(LinuxFile target, long offset, long length) throws BlockDeviceException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocate(ValueLayout.JAVA_LONG);
            MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG);
            in.set(ValueLayout.JAVA_LONG, 0, offset);
            out.set(ValueLayout.JAVA_LONG, 0, offset);
            MemorySegment state = STATE.get();
            long left = length;
            boolean first = true;
            while (left > 0) {
                long n = (long) CopyFileRange.H.invokeExact(state, fd, in, target.fd, out, left, 0);
                if (n < 0) {
                    int e = errno(state);
                    if (e == EINTR) {
                        continue;
                    }
                    if (first && (e == 18 || e == ENOSYS || e == EOPNOTSUPP || e == 22)) { // EXDEV, EINVAL
                        return false;
                    }
                    throw error("copy_file_range", path + " -> " + target.path, e);
                }
                if (n == 0) {
                    throw new BlockDeviceException(BlockError.EIO, "copy_file_range: " + path + " ended at byte "
                            + in.get(ValueLayout.JAVA_LONG, 0) + ", before " + (offset + length));
                }
                first = false;
                left -= n;
            }
            return true;
        } catch (BlockDeviceException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The file descriptor number (for /proc/self/fd/N, which reopens this very file). */
    int descriptor() {
        return fd;
    }

    /** Reads exactly {@code length} bytes (zeroes past end of file). */
    public void readFully(MemorySegment dst, long offset) throws BlockDeviceException {
        long done = 0;
        long length = dst.byteSize();
        while (done < length) {
            long n = call(Pread.H, "pread", dst.asSlice(done), length - done, offset + done);
            if (n == 0) {
                dst.asSlice(done).fill((byte) 0);
                return;
            }
            done += n;
        }
    }

    /**
     * Reads what the page cache already holds without blocking (preadv2 with RWF_NOWAIT): the number of
     * bytes read, possibly short, or 0 when the read would block or the kernel cannot tell.
     */
    public long readCached(MemorySegment dst, long offset) throws BlockDeviceException {
        if (noWaitUnsupported) {
            return 0;
        }
        MemorySegment state = STATE.get();
        MemorySegment iov = IOVEC.get();
        iov.set(ValueLayout.ADDRESS, 0, dst);
        iov.set(ValueLayout.JAVA_LONG, 8, dst.byteSize());
        long n;
        try {
            n = (long) Preadv2.H.invokeExact(state, fd, iov, 1, offset, RWF_NOWAIT);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (n >= 0) {
            return n;
        }
        int e = errno(state);
        if (e == EOPNOTSUPP || e == 22) {
            noWaitUnsupported = true; // file system or kernel without RWF_NOWAIT for buffered reads
            return 0;
        }
        if (e == EAGAIN || e == EINTR) {
            return 0;
        }
        throw error("preadv2", path, e);
    }

    /**
     * Whether every page of {@code [offset, offset+length)} is in the page cache (cachestat(2), one call, no
     * I/O): false when some is not, or when the kernel cannot tell (before Linux 6.5, or a file system
     * without a page cache here).
     */
    public boolean cached(long offset, long length) {
        MemorySegment m = cachestat(offset, length);
        long pages = (offset + length + Page.SIZE - 1) / Page.SIZE - offset / Page.SIZE;
        return m != null && m.get(ValueLayout.JAVA_LONG, 16) >= pages;
    }

    /** Pages of {@code [offset, offset+length)} dirty or being written back (cachestat(2)); -1 when the kernel cannot tell. */
    long pagesNotOnDisk(long offset, long length) {
        MemorySegment m = cachestat(offset, length);
        return m == null ? -1 : m.get(ValueLayout.JAVA_LONG, 24) + m.get(ValueLayout.JAVA_LONG, 32);
    }

    /** The range (16 bytes) then struct cachestat: nr_cache, nr_dirty, nr_writeback, ...; null when unavailable. */
    private MemorySegment cachestat(long offset, long length) {
        if (cachestatUnsupported || cachestatRefused || length <= 0) {
            return null;
        }
        MemorySegment state = STATE.get();
        MemorySegment m = CACHESTAT.get();
        m.set(ValueLayout.JAVA_LONG, 0, offset);
        m.set(ValueLayout.JAVA_LONG, 8, length);
        long r;
        try {
            r = (long) Syscall4.H.invokeExact(state, SYS_CACHESTAT, (long) fd, m, m.asSlice(16), 0L);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (r < 0) {
            int e = errno(state);
            if (e == ENOSYS) {
                cachestatUnsupported = true; // the kernel is older than 6.5
            } else if (e == EOPNOTSUPP) {
                cachestatRefused = true; // this file has no page cache to ask (hugetlbfs)
            }
            return null;
        }
        return m;
    }

    public void writeFully(MemorySegment src, long offset) throws BlockDeviceException {
        long done = 0;
        long length = src.byteSize();
        while (done < length) {
            done += call(Pwrite.H, "pwrite", src.asSlice(done), length - done, offset + done);
        }
    }

    private long call(MethodHandle h, String what, MemorySegment buf, long len, long off) throws BlockDeviceException {
        MemorySegment state = STATE.get();
        while (true) {
            long n;
            try {
                n = (long) h.invokeExact(state, fd, buf, len, off);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
            if (n >= 0) {
                return n;
            }
            int e = errno(state);
            if (e != EINTR) {
                throw error(what, path, e);
            }
        }
    }

    /**
     * Starts writing back the dirty pages of {@code [offset, offset+length)} (a length of 0: to the end of the file) without waiting for them
     * (sync_file_range SYNC_FILE_RANGE_WRITE): a long copy hands its output to the disk as it goes, so the
     * fdatasync at its end finds little left. Durability still comes only from that fdatasync; a failure
     * here is left for it to report.
     */
    public void startWriteback(long offset, long length) {
        if (closed) {
            return; // a hint that came late: the descriptor's number may name another file by now
        }
        try {
            int ignored = (int) SyncFileRange.H.invokeExact(STATE.get(), fd, offset, length, SYNC_FILE_RANGE_WRITE);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public void fdatasync() throws BlockDeviceException {
        MemorySegment state = STATE.get();
        int r;
        try {
            r = (int) Fdatasync.H.invokeExact(state, fd);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (r < 0) {
            throw error("fdatasync", path, errno(state));
        }
    }

    /** fallocate(2); false when the file system does not support {@code mode} (EOPNOTSUPP). */
    public boolean fallocate(int mode, long offset, long length) throws BlockDeviceException {
        MemorySegment state = STATE.get();
        int r;
        try {
            r = (int) Fallocate.H.invokeExact(state, fd, mode, offset, length);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (r < 0) {
            int e = errno(state);
            if (e == 95) {
                return false;
            }
            throw error("fallocate", path, e);
        }
        return true;
    }

    public void truncate(long size) throws BlockDeviceException {
        MemorySegment state = STATE.get();
        int r;
        try {
            r = (int) Ftruncate.H.invokeExact(state, fd, size);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (r < 0) {
            throw error("ftruncate", path, errno(state));
        }
    }

    /** lseek(2); -1 when it answers ENXIO (no more data past {@code offset} for SEEK_DATA). */
    public long seek(long offset, int whence) throws BlockDeviceException {
        MemorySegment state = STATE.get();
        long r;
        try {
            r = (long) Lseek.H.invokeExact(state, fd, offset, whence);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (r < 0) {
            int e = errno(state);
            if (e == ENXIO) {
                return -1;
            }
            throw error("lseek", path, e);
        }
        return r;
    }

    public long size() throws BlockDeviceException {
        return seek(0, SEEK_END);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            int ignored = (int) Close.H.invokeExact(fd);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    static BlockDeviceException error(String call, String path, int errno) {
        BlockError e = switch (errno) {
            case 1 -> BlockError.EPERM;
            case 2 -> BlockError.EINVAL;
            case 13 -> BlockError.EACCES;
            case 22 -> BlockError.EINVAL;
            case 27 -> BlockError.EFBIG;
            case 28 -> BlockError.ENOSPC;
            case 30 -> BlockError.EROFS;
            case 122 -> BlockError.EDQUOT;
            default -> BlockError.EIO;
        };
        String text = errno == 2 ? "no such file" : "errno " + errno;
        return new BlockDeviceException(e, call + "(" + path + "): " + text);
    }
}
