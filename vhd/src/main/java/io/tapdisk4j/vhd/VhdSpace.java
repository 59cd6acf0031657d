package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.image.Io;

/**
 * Space reservation at the end of a VHD's data: blocks go where the footer was, after the transport has grown
 * (in steps of {@value #GROW_BLOCKS} blocks, which keeps resize calls, an NFS SETATTR, rare) and a new footer
 * has been written at its new end. A transport that cannot grow bounds the image.
 */
final class VhdSpace {

    static final int GROW_BLOCKS = 32;

    private final VhdImage image;
    private final Object lock = new Object();
    private long nextFree;
    /** Space from here on was added since open and reads as zeroes. */
    private final long freshFrom;
    private final boolean preallocate;

    VhdSpace(VhdImage image, long nextFree) {
        this.image = image;
        this.nextFree = nextFree;
        BlockDevice transport = image.transport;
        this.freshFrom = transport.size();
        // A local file's write-zeroes is fallocate(ZERO_RANGE): the space it reserves when the file grows spares
        // the file system its block allocation on every first write (measured: first writes 0.4 -> 0.6 of
        // rewrites). Elsewhere (NFS) write-zeroes may really write zeroes, so only local files do it.
        this.preallocate = transport.has(Capability.WRITE_ZEROES) && transport.describe().startsWith("file:");
    }

    long freshFrom() {
        return freshFrom;
    }

    long nextFree() {
        synchronized (lock) {
            return nextFree;
        }
    }

    void setNextFree(long end) {
        synchronized (lock) {
            nextFree = end;
        }
    }

    /** Reserves file space for one block (bitmap and data); returns its offset. */
    long reserveBlock() throws BlockDeviceException {
        BlockDevice transport = image.transport;
        int total = image.blockTotal();
        synchronized (lock) {
            long p = nextFree;
            long need = p + total + VhdFooter.SIZE;
            long size = transport.size();
            if (need > size) {
                if (!transport.has(Capability.RESIZE)) {
                    throw new BlockDeviceException(BlockError.ENOSPC, image.describe() + ": no room for another "
                            + image.blockSize / 1024 + " KiB block in " + size + " bytes of storage");
                }
                long newSize = p + (long) GROW_BLOCKS * total + VhdFooter.SIZE;
                Io.join(transport.resize(newSize));
                if (preallocate) {
                    Io.join(transport.writeZeroes(size, newSize - VhdFooter.SIZE - size, false));
                }
                Io.write(transport, newSize - VhdFooter.SIZE, image.footer.encode());
                if (size - VhdFooter.SIZE >= p) {
                    // the old footer now lies in space blocks will use: it must read as zeroes
                    Io.join(Io.zero(transport, size - VhdFooter.SIZE, VhdFooter.SIZE));
                }
            }
            nextFree = p + total;
            return p;
        }
    }

    /** Reserves {@code bytes} at the end of the data (a moved BAT); returns their offset. */
    long reserve(long bytes) throws BlockDeviceException {
        synchronized (lock) {
            long at = nextFree;
            nextFree = at + bytes;
            ensureSize(nextFree + VhdFooter.SIZE);
            return at;
        }
    }

    private void ensureSize(long need) throws BlockDeviceException {
        BlockDevice transport = image.transport;
        long size = transport.size();
        if (need > size) {
            if (!transport.has(Capability.RESIZE)) {
                throw new BlockDeviceException(BlockError.ENOSPC, image.describe() + ": storage too small");
            }
            Io.join(transport.resize(need));
            Io.write(transport, need - VhdFooter.SIZE, image.footer.encode());
        }
    }

    /** Gives back the slack the transport grew by in steps: footer at the end of the data, then truncate. */
    void trim() throws BlockDeviceException {
        BlockDevice transport = image.transport;
        long end = nextFree();
        long size = transport.size();
        if (transport.has(Capability.RESIZE) && size > end + VhdFooter.SIZE) {
            Io.write(transport, end, image.footer.encode());
            Io.join(transport.flush());
            Io.join(transport.resize(end + VhdFooter.SIZE));
        }
    }
}
