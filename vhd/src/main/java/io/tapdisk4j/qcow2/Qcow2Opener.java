package io.tapdisk4j.qcow2;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.image.BackingLayer;
import io.tapdisk4j.image.ChainGuard;
import io.tapdisk4j.image.Io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Reads and checks a qcow2 image's header and tables before anything is trusted (every offset inside the
 * file, no table over the header or another table, sizes bounded), refuses what it cannot honour with a
 * message saying why, then opens the backing chain.
 */
final class Qcow2Opener {

    /** Incompatible features this code honours: dirty, corrupt (read-only), compression type (zlib), extended L2. */
    static final long KNOWN_INCOMPATIBLE = Qcow2Header.INCOMPAT_DIRTY | Qcow2Header.INCOMPAT_CORRUPT
            | Qcow2Header.INCOMPAT_COMPRESSION | Qcow2Header.INCOMPAT_EXTL2;

    private Qcow2Opener() {
    }

    static boolean probe(BlockDevice transport) throws BlockDeviceException {
        if (transport.size() < 72) {
            return false;
        }
        return ByteBuffer.wrap(Io.readAligned(transport, 0, 4)).getInt() == Qcow2Header.MAGIC;
    }

    /** The header of the image on {@code transport}, with its extensions (which lie in the first cluster). */
    static Qcow2Header readHeader(BlockDevice transport, String where) throws BlockDeviceException {
        long size = transport.size();
        if (size < 104) {
            if (size >= 72 && ByteBuffer.wrap(Io.readAligned(transport, 0, 8)).getInt(4) == 2) {
                return Qcow2Header.parse(Io.readAligned(transport, 0, 72), where);
            }
            throw new BlockDeviceException(BlockError.EIO, where + ": too small to be a qcow2 image (" + size + " bytes)");
        }
        byte[] first = Io.readAligned(transport, 0, 104);
        int bits = ByteBuffer.wrap(first).getInt(20);
        if (bits < 9 || bits > 21) {
            return Qcow2Header.parse(first, where); // reports the bad cluster size
        }
        return Qcow2Header.parse(Io.readAligned(transport, 0, (int) Math.min(size, 1L << bits)), where);
    }

    static Qcow2Device open(BlockDevice transport, DeviceUri uri, boolean readOnly, BlockDevices devices)
            throws BlockDeviceException {
        String where = uri.text();
        Qcow2Header h = readHeader(transport, where);
        refuseUnsupported(h, readOnly, where);
        long fileSize = transport.size();
        long cs = h.clusterSize();
        long l1Bytes = (long) h.l1Size() * 8;
        if (h.l1Size() > 0 && h.l1TableOffset() + l1Bytes > fileSize) {
            throw bad(where, "L1 table (" + l1Bytes + " bytes at " + h.l1TableOffset() + ") lies outside the file ("
                    + fileSize + " bytes)");
        }
        long refBytes = (long) h.refcountTableClusters() * cs;
        if (h.refcountTableOffset() + refBytes > fileSize) {
            throw bad(where, "refcount table (" + refBytes + " bytes at " + h.refcountTableOffset()
                    + ") lies outside the file (" + fileSize + " bytes)");
        }
        if (h.l1Size() > 0 && h.l1TableOffset() < h.refcountTableOffset() + refBytes
                && h.refcountTableOffset() < h.l1TableOffset() + l1Bytes) {
            throw bad(where, "L1 table and refcount table overlap");
        }
        if (h.l1Size() > 0 && h.l1TableOffset() < cs || h.refcountTableOffset() < cs) {
            throw bad(where, "a table overlaps the header");
        }
        long[] l1 = Qcow2Tables.parseL1(Io.readAligned(transport, h.l1TableOffset(), (int) l1Bytes), h.l1Size());
        long[] reftable = Qcow2Refcounts.parseTable(Io.read(transport, h.refcountTableOffset(), (int) refBytes));
        List<Qcow2Snapshots.Snapshot> snapshots = Qcow2Snapshots.read(transport, h, where);

        ChainGuard.enter(uri.text(), where);
        BackingLayer below;
        try {
            below = openBacking(transport, uri, h, devices);
        } finally {
            ChainGuard.leave(uri.text());
        }
        try {
            Qcow2Image image = new Qcow2Image(transport, uri, readOnly, h, below);
            for (int i = 0; i < l1.length; i++) {
                long off = L2Entry.offset(l1[i]);
                if (off != 0) {
                    image.checkMetadataPointer(off, "L1 entry " + i);
                }
            }
            Qcow2Tables tables = new Qcow2Tables(image, l1);
            Qcow2Refcounts refs = new Qcow2Refcounts(image, reftable);
            // Clusters are appended after the file's end: every pointer was checked to lie inside the file, so
            // nothing referenced is there. Storage that cannot grow (a LUN) ends after its last counted cluster.
            long end = (fileSize + cs - 1) / cs;
            if (!transport.has(io.tapdisk4j.block.Capability.RESIZE)) {
                end = (Math.max(h.l1TableOffset() + l1Bytes, h.refcountTableOffset() + refBytes) + cs - 1) / cs;
                for (int i = 0; i < reftable.length; i++) {
                    long off = reftable[i] & L2Entry.OFFSET_MASK;
                    if (off == 0) {
                        continue;
                    }
                    end = Math.max(end, off / cs + 1);
                    long base = (long) i * refs.perBlock();
                    for (long c = refs.perBlock() - 1; c >= 0; c--) {
                        if (refs.get(base + c) != 0) {
                            end = Math.max(end, base + c + 1);
                            break;
                        }
                    }
                }
            }
            for (int i = 0; i < reftable.length; i++) {
                long off = reftable[i] & L2Entry.OFFSET_MASK;
                if (off != 0) {
                    image.checkMetadataPointer(off, "refcount block " + i);
                }
            }
            refs.setNextFree(end);
            Qcow2Device d = new Qcow2Device(image, tables, refs, snapshots);
            if (!readOnly && h.dirty()) {
                Qcow2Repair.rebuildRefcounts(d);
            }
            return d;
        } catch (BlockDeviceException | RuntimeException e) {
            below.close();
            throw e;
        }
    }

    private static void refuseUnsupported(Qcow2Header h, boolean readOnly, String where) throws BlockDeviceException {
        long unknown = h.incompatible() & ~KNOWN_INCOMPATIBLE;
        if (unknown != 0) {
            StringBuilder names = new StringBuilder();
            for (int bit = 0; bit < 64; bit++) {
                if ((unknown & (1L << bit)) != 0) {
                    names.append(names.isEmpty() ? "" : ", ").append(h.incompatibleName(bit));
                }
            }
            if ((unknown & Qcow2Header.INCOMPAT_DATA_FILE) != 0) {
                names.append(" (an external data file)");
            }
            throw new BlockDeviceException(BlockError.ENOTSUP, where + ": qcow2 incompatible feature " + names
                    + " is not supported; refusing to open the image");
        }
        if ((h.incompatible() & Qcow2Header.INCOMPAT_COMPRESSION) != 0 && h.compressionType() != 0) {
            throw new BlockDeviceException(BlockError.ENOTSUP, where + ": compression type " + h.compressionType()
                    + " (zstd) is not supported; only zlib is");
        }
        if (h.cryptMethod() != 0) {
            throw new BlockDeviceException(BlockError.ENOTSUP, where + ": encrypted qcow2 images (method "
                    + h.cryptMethod() + ") are not supported");
        }
        if (!readOnly && (h.incompatible() & Qcow2Header.INCOMPAT_CORRUPT) != 0) {
            throw new BlockDeviceException(BlockError.EROFS, where + ": the image is marked corrupt; it can only be"
                    + " opened read-only (repair it with 'qemu-img check -r all')");
        }
        if (!readOnly && h.nbSnapshots() > 0) {
            throw new BlockDeviceException(BlockError.EROFS, where + ": the image has " + h.nbSnapshots()
                    + " internal snapshots; tapdisk4j lists them but opens such images read-only");
        }
        if (!readOnly && h.version() < 3 && h.extendedL2()) {
            throw new BlockDeviceException(BlockError.EIO, where + ": extended L2 needs version 3");
        }
    }

    /** The backing file a qcow2 image names, resolved, without opening it; null for none or not a qcow2 image. */
    static DeviceUri backingName(BlockDevice transport, DeviceUri uri, BlockDevices devices) throws BlockDeviceException {
        if (!probe(transport)) {
            return null;
        }
        Qcow2Header h = readHeader(transport, uri.text());
        if (h.backingFileOffset() == 0) {
            return null;
        }
        return resolve(uri, new String(Io.readAligned(transport, h.backingFileOffset(), h.backingFileSize()),
                StandardCharsets.UTF_8), devices);
    }

    /** The backing image named by the header (resolved like a relative VHD parent locator), or none. */
    private static BackingLayer openBacking(BlockDevice transport, DeviceUri uri, Qcow2Header h, BlockDevices devices)
            throws BlockDeviceException {
        if (h.backingFileOffset() == 0) {
            return BackingLayer.none();
        }
        String name = new String(Io.readAligned(transport, h.backingFileOffset(), h.backingFileSize()),
                StandardCharsets.UTF_8);
        DeviceUri target = resolve(uri, name, devices);
        if (target.text().equals(uri.text())) {
            throw bad(uri.text(), "parent loop: the image names itself as its backing file");
        }
        String format = h.backingFormat() == null ? null : switch (h.backingFormat()) {
            case "raw", "file" -> "raw";
            case "vpc", "vhd" -> "vhd";
            case "qcow2" -> "qcow2";
            default -> throw new BlockDeviceException(BlockError.ENOTSUP, uri + ": backing format '"
                    + h.backingFormat() + "' is not supported (raw, vpc/vhd and qcow2 are)");
        };
        try {
            OpenOptions o = OpenOptions.readOnlyOptions();
            BlockDevice d = devices.open(target, format == null ? o : o.withFormat(format));
            return new BackingLayer(d, target);
        } catch (BlockDeviceException e) {
            if (ChainGuard.isChainError(e)) {
                throw e;
            }
            throw new BlockDeviceException(e.error(), uri + ": backing file " + target + ": " + e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            throw new BlockDeviceException(BlockError.EIO, uri + ": backing file " + target + ": " + e.getMessage(), e);
        }
    }

    /** A backing file name: a device URI, an absolute path (beside a file: image), or a name relative to it. */
    static DeviceUri resolve(DeviceUri child, String name, BlockDevices devices) throws BlockDeviceException {
        try {
            if (name.matches("[a-zA-Z][a-zA-Z0-9+.-]*:.*") && !name.startsWith("/")) {
                return DeviceUri.parse(name);
            }
            if (name.startsWith("/") && child.scheme().equals("file")) {
                return DeviceUri.parse("file://" + name);
            }
            return devices.provider(child).resolve(child, name);
        } catch (IllegalArgumentException e) {
            throw bad(child.text(), "backing file name '" + name + "' is unusable: " + e.getMessage());
        }
    }

    private static BlockDeviceException bad(String where, String what) {
        return new BlockDeviceException(BlockError.EIO, where + ": " + what);
    }
}
