package io.tapdisk4j.rbd;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * An open RBD image ({@code rbd_image_t}) and its blocking management calls: size, features, resize, snapshots,
 * diff iteration. I/O goes through {@link RbdBlockDevice}'s asynchronous calls on the same handle.
 */
final class RbdImage implements AutoCloseable {

    /** rbd_snap_info_t: {uint64_t id; uint64_t size; const char *name;}. */
    private static final MemoryLayout SNAP_INFO = MemoryLayout.structLayout(ValueLayout.JAVA_LONG.withName("id"),
            ValueLayout.JAVA_LONG.withName("size"), ValueLayout.ADDRESS.withName("name"));

    /**
     * librbd calls a resize's progress function without checking it for NULL: it gets one that does nothing. In a
     * holder class, so that only a resize pays for the upcall stub.
     */
    private static final class NoProgress {
        static final MemorySegment STUB = Native.upcall(java.lang.invoke.MethodHandles.lookup(), "noProgress",
                java.lang.invoke.MethodType.methodType(int.class, long.class, long.class, MemorySegment.class),
                Native.PROGRESS_CALLBACK);

        @SuppressWarnings("unused") // called by librbd through the stub
        private static int noProgress(long offset, long total, MemorySegment arg) {
            return 0;
        }
    }

    private final RbdCluster cluster;
    private final MemorySegment handle;
    private final boolean readOnly;
    private boolean closed;

    private RbdImage(RbdCluster cluster, MemorySegment handle, boolean readOnly) {
        this.cluster = cluster;
        this.handle = handle;
        this.readOnly = readOnly;
    }

    /** Opens the image the cluster's URL names (at its snapshot, read-only, if it names one). */
    static RbdImage open(RbdCluster cluster, boolean readOnly) throws BlockDeviceException {
        RbdUrl url = cluster.url();
        boolean ro = readOnly || url.snapshot() != null;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            MemorySegment snap = url.snapshot() == null ? MemorySegment.NULL : a.allocateFrom(url.snapshot());
            int rc = ro ? (int) Native.Image.RBD_OPEN_READ_ONLY.invokeExact(cluster.ioctx(), a.allocateFrom(url.image()), out, snap)
                    : (int) Native.Image.RBD_OPEN.invokeExact(cluster.ioctx(), a.allocateFrom(url.image()), out, snap);
            if (rc == -RbdErrors.ENOENT) {
                throw new BlockDeviceException(BlockError.EINVAL, "no RBD image " + url.imageSpec()
                        + (url.snapshot() == null ? "" : " (or no such snapshot)") + " (" + url.describe() + ")");
            }
            if (rc < 0) {
                throw RbdErrors.op("cannot open RBD image " + url.imageSpec(), rc);
            }
            return new RbdImage(cluster, out.get(ValueLayout.ADDRESS, 0), ro);
        } catch (BlockDeviceException | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    MemorySegment handle() {
        return handle;
    }

    RbdUrl url() {
        return cluster.url();
    }

    boolean readOnly() {
        return readOnly;
    }

    long size() throws BlockDeviceException {
        return u64(Native.Image.RBD_GET_SIZE, "rbd_get_size");
    }

    long features() throws BlockDeviceException {
        return u64(Native.Image.RBD_GET_FEATURES, "rbd_get_features");
    }

    /** The RADOS object size (1 << order): the granularity of the allocation map. */
    long objectSize() throws BlockDeviceException {
        try (Arena a = Arena.ofConfined()) {
            // rbd_image_info_t starts {uint64_t size; uint64_t obj_size; ...}; 128 bytes covers all of it.
            MemorySegment info = a.allocate(128);
            int rc = (int) Native.Image.RBD_STAT.invokeExact(handle, info, 128L);
            check("rbd_stat", rc);
            return info.get(ValueLayout.JAVA_LONG, 8);
        } catch (BlockDeviceException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** True when diff iteration may work per object from the object map (fast-diff enabled and valid). */
    boolean fastDiff() throws BlockDeviceException {
        return (features() & Native.FEATURE_FAST_DIFF) != 0
                && (u64(Native.Image.RBD_GET_FLAGS, "rbd_get_flags") & Native.FLAG_FAST_DIFF_INVALID) == 0;
    }

    void resize(long newSize) throws BlockDeviceException {
        try {
            check("resize " + url().imageSpec() + " to " + newSize + " bytes",
                    (int) Native.Admin.RBD_RESIZE2.invokeExact(handle, newSize, true, NoProgress.STUB, MemorySegment.NULL));
        } catch (BlockDeviceException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    void snapshotCreate(String name) throws BlockDeviceException {
        stringCall(Native.Admin.RBD_SNAP_CREATE, "create snapshot " + url().imageSpec() + "@" + name, name);
    }

    /** Protects a snapshot so clones can hang off it; already protected is fine. */
    void snapshotProtect(String name) throws BlockDeviceException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_INT);
            int rc = (int) Native.Admin.RBD_SNAP_IS_PROTECTED.invokeExact(handle, a.allocateFrom(name), out);
            check("no snapshot " + url().imageSpec() + "@" + name, rc);
            if (out.get(ValueLayout.JAVA_INT, 0) == 0) {
                rc = (int) Native.Admin.RBD_SNAP_PROTECT.invokeExact(handle, a.allocateFrom(name));
                if (rc != -RbdErrors.EBUSY) {
                    check("protect snapshot " + url().imageSpec() + "@" + name, rc);
                }
            }
        } catch (BlockDeviceException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    boolean snapshotExists(String name) throws BlockDeviceException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_BOOLEAN);
            check("rbd_snap_exists", (int) Native.Admin.RBD_SNAP_EXISTS.invokeExact(handle, a.allocateFrom(name), out));
            return out.get(ValueLayout.JAVA_BOOLEAN, 0);
        } catch (BlockDeviceException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Snapshot names, oldest first. */
    List<String> snapshots() throws BlockDeviceException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment max = a.allocate(ValueLayout.JAVA_INT);
            for (int n = 16; ; n *= 4) {
                max.set(ValueLayout.JAVA_INT, 0, n);
                MemorySegment snaps = a.allocate(SNAP_INFO, n + 1L);
                int rc = (int) Native.Admin.RBD_SNAP_LIST.invokeExact(handle, snaps, max);
                if (rc == -RbdErrors.ERANGE) {
                    continue;
                }
                check("rbd_snap_list", rc);
                List<String> names = new ArrayList<>(rc);
                for (int i = 0; i < rc; i++) {
                    MemorySegment s = snaps.asSlice(i * SNAP_INFO.byteSize(), SNAP_INFO.byteSize());
                    names.add(s.get(ValueLayout.ADDRESS, 16).reinterpret(Integer.MAX_VALUE).getString(0));
                }
                Native.Admin.RBD_SNAP_LIST_END.invokeExact(snaps);
                return names;
            }
        } catch (BlockDeviceException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * {@code rbd_diff_iterate2} over {@code [offset, offset+length)}: with {@code fromSnapshot} null, the runs
     * holding data (the parent's too, for a clone); else the runs changed since that snapshot.
     * {@code wholeObject}: whole RADOS objects from the object map, when fast-diff is valid.
     */
    List<RbdDiff.Run> diff(String fromSnapshot, long offset, long length, boolean wholeObject) throws BlockDeviceException {
        long id = RbdDiff.begin();
        int rc;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment from = fromSnapshot == null ? MemorySegment.NULL : a.allocateFrom(fromSnapshot);
            rc = (int) Native.Image.RBD_DIFF_ITERATE2.invokeExact(handle, from, offset, length,
                    (byte) (fromSnapshot == null ? 1 : 0), (byte) (wholeObject ? 1 : 0), RbdDiff.CALLBACK,
                    MemorySegment.ofAddress(id));
        } catch (Throwable t) {
            RbdDiff.finish(id);
            throw new IllegalStateException(t);
        }
        List<RbdDiff.Run> runs = RbdDiff.finish(id);
        if (rc == -RbdErrors.ENOENT && fromSnapshot != null) {
            throw new BlockDeviceException(BlockError.EINVAL, "no snapshot " + url().pool() + "/" + url().image() + "@" + fromSnapshot);
        }
        check("rbd_diff_iterate2 on " + url().imageSpec(), rc);
        return runs;
    }

    private long u64(java.lang.invoke.MethodHandle call, String what) throws BlockDeviceException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_LONG);
            check(what, (int) call.invokeExact(handle, out));
            return out.get(ValueLayout.JAVA_LONG, 0);
        } catch (BlockDeviceException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private void stringCall(java.lang.invoke.MethodHandle call, String what, String arg) throws BlockDeviceException {
        try (Arena a = Arena.ofConfined()) {
            check(what, (int) call.invokeExact(handle, a.allocateFrom(arg)));
        } catch (BlockDeviceException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static void check(String what, int rc) throws BlockDeviceException {
        if (rc < 0) {
            throw RbdErrors.op(what, rc);
        }
    }

    /** Closes the image (librbd waits for its in-flight requests), then the cluster connection. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            int rc = (int) Native.Image.RBD_CLOSE.invokeExact(handle);
            if (rc < 0) {
                org.slf4j.LoggerFactory.getLogger(RbdImage.class).warn("closing {}: {}", url().describe(), RbdErrors.name(-rc));
            }
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        } finally {
            cluster.close();
        }
    }
}
