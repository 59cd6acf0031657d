package io.tapdisk4j.qcow2;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.image.Io;

/**
 * Room in the file for the clusters {@link Qcow2Refcounts} appends: the transport grows in steps of
 * {@value #GROW_BYTES} bytes (an NFS SETATTR each, so rarely) and gives the slack back on close. Space the
 * transport grew by since open reads as zeroes, so new clusters there need no zeroing.
 */
final class Qcow2Space {

    static final long GROW_BYTES = 64L << 20;

    private final Qcow2Image image;
    private final Qcow2Refcounts refs;
    private final long freshFrom;
    private final boolean preallocate;

    Qcow2Space(Qcow2Image image, Qcow2Refcounts refs) {
        this.image = image;
        this.refs = refs;
        BlockDevice t = image.transport;
        this.freshFrom = t.size();
        // as for VHD: a local file's write-zeroes (fallocate) reserves space so first writes cost less
        this.preallocate = t.has(Capability.WRITE_ZEROES) && t.describe().startsWith("file:");
    }

    /** True when {@code [off, off + len)} was added to the transport since open (it reads as zeroes). */
    boolean fresh(long off) {
        return off >= freshFrom;
    }

    /** Allocates {@code n} contiguous clusters with refcount 1 and makes room for them; returns the offset. */
    long allocate(int n) throws BlockDeviceException {
        long at = refs.allocate(n);
        ensure(refs.nextFree() << image.clusterBits);
        return at;
    }

    /** Makes the transport at least {@code need} bytes long. */
    synchronized void ensure(long need) throws BlockDeviceException {
        BlockDevice t = image.transport;
        long size = t.size();
        if (need <= size) {
            return;
        }
        if (!t.has(Capability.RESIZE)) {
            throw new BlockDeviceException(BlockError.ENOSPC, image.describe() + ": no room for another cluster in "
                    + size + " bytes of storage");
        }
        long newSize = Math.max(need, size + GROW_BYTES) / image.clusterSize * image.clusterSize;
        newSize = Math.max(newSize, need);
        Io.join(t.resize(newSize));
        if (preallocate) {
            Io.join(t.writeZeroes(size, newSize - size, false));
        }
    }

    /** Gives back the slack at the end of the file (close). */
    synchronized void trim() throws BlockDeviceException {
        BlockDevice t = image.transport;
        long end = refs.nextFree() << image.clusterBits;
        if (t.has(Capability.RESIZE) && t.size() > end) {
            Io.join(t.flush());
            Io.join(t.resize(end));
        }
    }
}
