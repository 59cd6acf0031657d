package io.tapdisk4j.vhd;

import io.tapdisk4j.image.Io;
import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.block.StorageSnapshots;
import io.tapdisk4j.qcow2.Qcow2Checker;
import io.tapdisk4j.qcow2.Qcow2Creator;
import io.tapdisk4j.qcow2.Qcow2Device;
import io.tapdisk4j.qcow2.Qcow2Info;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The {@code vdi} operations on any device URI: create, info, check, snapshot, clone, coalesce, copy and
 * resize. Every operation works on images nobody else has open. Long ones report through {@link VdiProgress}
 * and stop at a consistent point when it says so; the images are valid at every step (the VHD write path is
 * crash safe), so an interrupted copy leaves a valid, partly filled destination and an interrupted coalesce
 * leaves the child unchanged.
 */
public final class VdiOperations {

    /** Bytes per read/write while coalescing. */
    static final int CHUNK = 4 << 20;

    private final BlockDevices devices;

    public VdiOperations(BlockDevices devices) {
        this.devices = devices;
    }

    public VdiOperations() {
        this(BlockDevices.loadDefault());
    }

    /** Creates an empty image: {@code format} raw or vhd; {@code fixed} for a fixed-size VHD. */
    public void create(String uri, long size, String format, boolean fixed) throws IOException {
        DeviceUri u = DeviceUri.parse(uri);
        String f = format == null ? "raw" : format.toLowerCase(java.util.Locale.ROOT);
        if (f.equals("qcow2")) {
            Qcow2Creator.checkSize(size);
        }
        if (f.equals("vhd")) {
            VhdCreator.checkSize(size);
            if (fixed) {
                try (BlockDevice t = devices.provider(u).create(u, 0)) {
                    VhdCreator.createFixed(t, size);
                }
                return;
            }
        } else if (fixed) {
            throw new BlockDeviceException(BlockError.EINVAL, "--fixed applies to VHD images only");
        }
        try (BlockDevice d = devices.create(u, size, f)) {
            d.flush().join();
        }
    }

    public VdiInfo info(String uri) throws IOException {
        DeviceUri u = DeviceUri.parse(uri);
        // One connection for both: for rbd://, nfs:// or iscsi:// a second open was a second session.
        BlockDevice t = devices.openTransport(u, OpenOptions.readOnlyOptions());
        long storage = t.size();
        try (BlockDevice d = devices.openOn(t, u, OpenOptions.readOnlyOptions())) {
            List<String> chain = new ArrayList<>();
            chain.add(uri);
            if (d instanceof VhdDevice v) {
                for (VhdDevice p = v; p.parent() instanceof VhdDevice pp; p = pp) {
                    chain.add(p.parentUri().text());
                }
                long allocated = v.diskType() == DiskType.FIXED ? v.size()
                        : (long) v.allocatedBlocks() * v.blockSize();
                return new VdiInfo(uri, "vhd", v.diskType().name().toLowerCase(java.util.Locale.ROOT), v.size(),
                        allocated, storage, v.blockSize(), v.footer().uuid().toString(),
                        v.parentUri() == null ? null : v.parentUri().text(), chain);
            }
            if (d instanceof Qcow2Device q) {
                return Qcow2Info.of(uri, q, storage);
            }
            long allocated = 0;
            for (Extent e : VdiCopier.allocationOf(d, 0, d.size())) {
                if (!e.hole()) {
                    allocated += e.length();
                }
            }
            return new VdiInfo(uri, "raw", null, d.size(), allocated, storage, 0, null, null, chain);
        }
    }

    public VhdChecker.Result check(String uri) {
        DeviceUri u = DeviceUri.parse(uri);
        return Qcow2Checker.isQcow2(devices, u) ? Qcow2Checker.check(devices, u) : VhdChecker.check(devices, u);
    }

    /**
     * The image at {@code uri} becomes a read-only parent under a new name beside it, and a new, empty
     * differencing child takes its place at {@code uri}. Needs storage that can rename (file:, nfs:); elsewhere
     * (a LUN, an NBD export, memory) the error names {@code vdi clone}, which leaves the parent in place.
     * Should the process die between the rename and the child's creation, the image is intact under the
     * parent's name. Returns the parent's URI.
     */
    public String snapshot(String uri) throws IOException {
        DeviceUri u = DeviceUri.parse(uri);
        if (devices.provider(u) instanceof StorageSnapshots own) {
            return own.snapshot(u).text(); // the storage's own snapshot (RBD): the image stays writable at uri
        }
        int blockSize = requireVhd(u);
        // The image's writer lock, held until the rename: an image a daemon serves (or anyone writes) is
        // refused instead of frozen under a writer that keeps the old file open. After the rename nothing can
        // open the name until the child is there, and the child takes the name's lock (NFS locks by name).
        BlockDevice writer = devices.openTransport(u, OpenOptions.DEFAULT);
        try {
            return snapshotLocked(u, uri, blockSize, writer);
        } finally {
            writer.close();
        }
    }

    private String snapshotLocked(DeviceUri u, String uri, int blockSize, BlockDevice writer) throws IOException {
        String ext = blockSize == QCOW2 ? ".qcow2" : ".vhd";
        String name = u.path().substring(u.path().lastIndexOf('/') + 1);
        String base = name.endsWith(ext) ? name.substring(0, name.length() - ext.length()) : name;
        String parentName = base + ".snap-" + UUID.randomUUID().toString().substring(0, 8) + ext;
        DeviceUri parentUri = name.isEmpty() ? null : devices.provider(u).resolve(u, parentName);
        try {
            if (parentUri == null) {
                throw new BlockDeviceException(BlockError.ENOTSUP, "storage '" + u.scheme() + ":' cannot rename (" + u + ")");
            }
            devices.rename(u, parentUri);
        } catch (BlockDeviceException e) {
            if (e.error() != BlockError.ENOTSUP) {
                throw e;
            }
            throw new BlockDeviceException(BlockError.ENOTSUP, "cannot snapshot " + uri + " in place: " + e.getMessage()
                    + ", which a snapshot needs; use 'vdi clone " + uri + " NEWURI' instead: the image stays where"
                    + " it is, as the read-only parent of a new child at NEWURI", e);
        }
        writer.close(); // closing twice is harmless
        try {
            createChild(parentUri, u, blockSize);
        } catch (IOException | RuntimeException e) {
            try {
                devices.provider(u).remove(u); // a partly written child
            } catch (IOException | RuntimeException ignored) {
                // there was none
            }
            try {
                devices.rename(parentUri, u);
            } catch (IOException | RuntimeException back) {
                e.addSuppressed(new BlockDeviceException(BlockError.EIO, "the image is now at " + parentUri
                        + ": renaming it back failed: " + back.getMessage(), back));
            }
            throw e;
        }
        markReadOnly(parentUri);
        return parentUri.text();
    }

    /** A new differencing child of {@code parent} at {@code newUri}; the parent should no longer be written. */
    public void clone(String parent, String newUri) throws IOException {
        DeviceUri p = DeviceUri.parse(parent);
        DeviceUri child = DeviceUri.parse(newUri);
        if (devices.provider(p) instanceof StorageSnapshots own && child.scheme().equals(p.scheme())) {
            own.clone(p, child); // the storage's own copy-on-write clone (RBD layering)
            return;
        }
        int blockSize = requireVhd(p);
        createChild(p, DeviceUri.parse(newUri), blockSize);
        markReadOnly(p);
    }

    /** {@link #requireVhd}'s answer for a qcow2 image (whose children are qcow2 images). */
    private static final int QCOW2 = -1;

    /** The block size for a VHD's children, or {@link #QCOW2}. */
    private int requireVhd(DeviceUri u) throws IOException {
        try (BlockDevice d = devices.open(u, OpenOptions.readOnlyOptions())) {
            if (d instanceof Qcow2Device) {
                return QCOW2;
            }
            if (!(d instanceof VhdDevice v)) {
                throw new BlockDeviceException(BlockError.EINVAL, u + " is not a VHD or qcow2 image: snapshots and"
                        + " clones need one (convert with 'vdi copy SRC DST --format qcow2')");
            }
            return v.blockSize() > 0 ? v.blockSize() : VhdDynamicHeader.DEFAULT_BLOCK_SIZE;
        }
    }

    private void createChild(DeviceUri parent, DeviceUri child, int blockSize) throws IOException {
        try (BlockDevice t = devices.provider(child).create(child, 0)) {
            if (blockSize == QCOW2) {
                Qcow2Info.createChild(t, child, parent, devices);
                return;
            }
            VhdCreator.createDifferencing(t, child, parent, devices, blockSize);
        }
    }

    private static void markReadOnly(DeviceUri u) {
        if (u.scheme().equals("file")) {
            Path.of(u.path()).toFile().setWritable(false, false);
        }
    }

    /** Coalesces {@code uri} into its parent, refusing when the parent has other children. */
    public void coalesce(String uri, VdiProgress progress) throws IOException {
        coalesce(uri, List.of(), progress);
    }

    /**
     * Merges the differencing image at {@code uri} into its parent: every sector the child holds is written
     * into the parent, the parent is flushed, and only then is the child emptied (it stays at {@code uri}, a
     * child with no blocks, so the URI reads the same throughout). Another child of the same parent would see
     * the merged data, so the parent's directory is scanned first and the coalesce refused while it has
     * other children, unless they are all named in {@code keep}: each of those first receives the parent's
     * old data wherever it does not hold its own, so it reads the same before and after.
     */
    public void coalesce(String uri, List<String> keep, VdiProgress progress) throws IOException {
        mergeIntoParent(uri, keep, progress, true);
    }

    /**
     * Writes every sector the differencing image at {@code uri} holds into its parent (keeping the children
     * named in {@code keep} intact, as {@link #coalesce(String, List, VdiProgress)}), and empties the child
     * when {@code empty}. Without emptying, the chain reads the same before and after: what an online
     * coalesce does while the child is still open elsewhere. Returns the parent's URI.
     */
    public String mergeIntoParent(String uri, List<String> keep, VdiProgress progress, boolean empty)
            throws IOException {
        return merge(uri, null, keep, progress, empty);
    }

    /**
     * Writes the sectors the differencing image at {@code uri} itself holds (its layer only) into
     * {@code ancestor}, an image further up its chain whose layers in between are already merged into it:
     * the last step of an online coalesce, for the small child written while the big merge ran.
     */
    public void mergeLayerInto(String uri, String ancestor, VdiProgress progress) throws IOException {
        merge(uri, DeviceUri.parse(ancestor), List.of(), progress, false);
    }

    private String merge(String uri, DeviceUri target, List<String> keep, VdiProgress progress, boolean empty)
            throws IOException {
        DeviceUri u = DeviceUri.parse(uri);
        // Untracked: emptying the child changes no virtual block (the parent now holds the same data).
        try (BlockDevice d = devices.open(u, empty ? OpenOptions.DEFAULT.withUntracked(true) : OpenOptions.readOnlyOptions())) {
            DeviceUri parentUri;
            String parentFormat;
            if (d instanceof Qcow2Device q && q.backingUri() != null) {
                parentUri = q.backingUri();
                parentFormat = null; // a qcow2 backing file may be raw, vhd or qcow2: probed
            } else if (d instanceof VhdDevice v && v.diskType() == DiskType.DIFFERENCING) {
                parentUri = v.parentUri();
                parentFormat = "vhd";
            } else {
                throw new BlockDeviceException(BlockError.EINVAL, uri + " is neither a differencing VHD nor a qcow2"
                        + " image with a backing file: nothing to coalesce");
            }
            BlockDevice child = d;
            if (target != null) {
                parentUri = target;
                parentFormat = null;
            }
            List<String> siblings = target != null ? List.of() : otherChildren(parentUri, u);
            for (String k : keep) {
                if (siblings.stream().noneMatch(s -> sameImage(k, s))) {
                    throw new BlockDeviceException(BlockError.EINVAL, k + " is not another child of " + parentUri);
                }
            }
            List<String> unnamed = new ArrayList<>();
            for (String s : siblings) {
                if (keep.stream().noneMatch(k -> sameImage(k, s))) {
                    unnamed.add(s);
                }
            }
            if (!unnamed.isEmpty()) {
                throw new BlockDeviceException(BlockError.EINVAL, "cannot coalesce " + uri + ": its parent "
                        + parentUri + " has other children (" + String.join(", ", unnamed) + "), which would read "
                        + "the merged data; name them with --keep to copy the parent's old data into them first");
            }
            if (parentUri.scheme().equals("file")) {
                Path.of(parentUri.path()).toFile().setWritable(true, true);
            }
            // The parent's log (frozen with the snapshot) describes the snapshot, and a kept sibling reads the same
            // before and after: what coalesce copies is already there logically, so it must not show up as changed.
            List<BlockDevice> kept = new ArrayList<>();
            try (BlockDevice parent = devices.open(parentUri, OpenOptions.DEFAULT.withFormat(parentFormat).withUntracked(true))) {
                for (String k : keep) {
                    kept.add(devices.open(DeviceUri.parse(k), OpenOptions.DEFAULT.withUntracked(true)));
                }
                if (parent.size() < child.size()) {
                    Io.join(parent.resize(child.size()));
                }
                List<Extent> extents = layerAllocation(d, 0, child.size());
                long total = extents.stream().filter(e -> !e.hole()).mapToLong(Extent::length).sum();
                long done = 0;
                progress.update("coalesce", 0, total);
                for (Extent e : extents) {
                    if (e.hole()) {
                        continue;
                    }
                    for (long off = e.offset(); off < e.end(); off += CHUNK) {
                        if (progress.cancelled()) {
                            parent.flush().join();
                            throw new BlockDeviceException(BlockError.EIO, "coalesce interrupted; " + uri
                                    + " is unchanged (its parent holds part of its data, which it still overrides)");
                        }
                        int n = (int) Math.min(CHUNK, e.end() - off);
                        preserve(parent, kept, off, n);
                        ByteBuf data = Io.join(child.read(off, n));
                        Io.join(parent.write(off, data, false));
                        done += n;
                        progress.update("coalesce", done, total);
                    }
                }
                Io.join(parent.flush());
            } finally {
                for (BlockDevice k : kept) {
                    k.close();
                }
                markReadOnly(parentUri);
            }
            if (empty) {
                if (d instanceof Qcow2Device q) {
                    q.emptyLayer();
                } else {
                    ((VhdDevice) d).emptyLayer();
                }
            }
            return parentUri.text();
        }
    }

    /**
     * Before the parent's range [off, off+n) changes, each kept sibling receives the parent's current data
     * wherever it holds none of its own, and is flushed: a crash after this still leaves it reading the same.
     */
    private static void preserve(BlockDevice parent, List<BlockDevice> kept, long off, int n) throws IOException {
        if (kept.isEmpty()) {
            return;
        }
        ByteBuf old = Io.join(parent.read(off, n));
        try {
            for (BlockDevice k : kept) {
                long limit = Math.min(off + n, k.size());
                if (limit <= off) {
                    continue;
                }
                for (Extent h : layerAllocation(k, off, limit - off)) {
                    if (h.hole()) {
                        Io.join(k.write(h.offset(), old.retainedSlice((int) (h.offset() - off), (int) h.length()),
                                false));
                    }
                }
                Io.join(k.flush());
            }
        } finally {
            old.release();
        }
    }

    /**
     * The other differencing images in {@code parent}'s directory whose parent is {@code parent}, found by
     * listing the directory (storage that cannot list has no siblings to find; a child elsewhere is not seen).
     */
    public List<String> otherChildren(DeviceUri parent, DeviceUri except) throws IOException {
        DeviceUri dir = devices.provider(parent).resolve(parent, ".");
        if (dir == null) {
            return List.of();
        }
        List<String> names;
        try {
            names = devices.provider(parent).list(dir);
        } catch (BlockDeviceException e) {
            if (e.error() == BlockError.ENOTSUP) {
                return List.of();
            }
            throw e;
        }
        java.util.UUID parentId = null; // a VHD parent: its children are matched by its unique id, as a chain is
        try (BlockDevice t = devices.openTransport(parent, OpenOptions.readOnlyOptions())) {
            parentId = VhdOpener.readFooter(t, parent.text()).uuid();
        } catch (IOException | RuntimeException notVhd) {
            // a raw or qcow2 parent: qcow2 children name it by their backing file
        }
        List<String> found = new ArrayList<>();
        for (String name : names) {
            boolean vhd = name.endsWith(".vhd");
            if (!vhd && !name.endsWith(".qcow2")) {
                continue;
            }
            DeviceUri candidate = devices.provider(parent).resolve(parent, name);
            if (candidate == null || sameImage(candidate.text(), except.text())
                    || sameImage(candidate.text(), parent.text())) {
                continue;
            }
            try (BlockDevice t = devices.openTransport(candidate, OpenOptions.readOnlyOptions())) {
                if (vhd) {
                    VhdFooter f = VhdOpener.readFooter(t, candidate.text());
                    if (f.diskType() == DiskType.DIFFERENCING && parentId != null) {
                        VhdDynamicHeader h = VhdDynamicHeader.parse(
                                Io.read(t, f.dataOffset(), VhdDynamicHeader.SIZE), candidate.text());
                        if (h.parentUuid().equals(parentId)) {
                            found.add(candidate.text());
                        }
                    }
                } else {
                    DeviceUri backing = Qcow2Device.backingOf(t, candidate, devices);
                    if (backing != null && sameImage(backing.text(), parent.text())) {
                        found.add(candidate.text());
                    }
                }
            } catch (IOException | RuntimeException notAnImage) {
                // not an image we can read: not a child we could keep intact either
            }
        }
        return found;
    }

    /** The extents that the top layer of a VHD or qcow2 image itself holds (holes show through to its parent). */
    private static List<Extent> layerAllocation(BlockDevice d, long offset, long length) throws IOException {
        if (d instanceof Qcow2Device q) {
            return q.layerAllocation(offset, length);
        }
        if (d instanceof VhdDevice v) {
            return v.layerAllocation(offset, length);
        }
        throw new BlockDeviceException(BlockError.EINVAL, d.describe() + " is neither a VHD nor a qcow2 image");
    }

    private static boolean sameImage(String a, String b) {
        return DeviceUri.parse(a).text().equals(DeviceUri.parse(b).text());
    }

    /**
     * Copies {@code src} to a new image at {@code dst} (raw or vhd), reading only what the source's
     * allocation map says holds data: holes and zero runs are skipped, so thin images stay thin.
     */
    public void copy(String src, String dst, String format, VdiProgress progress) throws IOException {
        copy(src, dst, format, false, progress);
    }

    /**
     * Copies {@code src} to {@code dst}: a new image (raw or vhd), or with {@code existing} onto an image or LUN
     * that is there already (as {@code qemu-img convert -n}; its format is probed, and it must be at least as
     * large as the source). Only what the source's allocation map says holds data is read; chunks that read
     * as zeroes are not written to a new image (it stays thin) and are written as zeroes (unmapped where the
     * storage can) onto an existing one, whose old data there must not show through.
     */
    public void copy(String src, String dst, String format, boolean existing, VdiProgress progress)
            throws IOException {
        copy(src, dst, format, existing, false, progress);
    }

    /**
     * {@link #copy(String, String, String, boolean, VdiProgress)}; with {@code bypassCache} the output is written
     * past the page cache where it has one (O_DIRECT on a local file), as {@code qemu-img convert -t none} and
     * XenServer's sparse_dd write: a copy is not read back soon, and its output evicted the cached data of
     * running guests instead (and on this project's VMs, page-cache memory touched for the first time cost more
     * than the disk: 1 GiB out of RBD, 1.95-2.29 s against 2.56-4.99 s through the page cache).
     */
    public void copy(String src, String dst, String format, boolean existing, boolean bypassCache,
            VdiProgress progress) throws IOException {
        OpenOptions out = OpenOptions.DEFAULT.withDirectIo(bypassCache);
        try (BlockDevice s = devices.open(DeviceUri.parse(src), OpenOptions.readOnlyOptions())) {
            String f = format == null ? "raw" : format;
            if (!existing && f.equalsIgnoreCase("vhd")) {
                VhdCreator.checkSize(s.size());
            } else if (f.equalsIgnoreCase("qcow2")) {
                Qcow2Creator.checkSize(s.size());
            }
            try (BlockDevice d = existing ? devices.open(DeviceUri.parse(dst), out)
                    : devices.create(DeviceUri.parse(dst), s.size(), f, out)) {
                if (existing && d.size() < s.size()) {
                    throw new BlockDeviceException(BlockError.EINVAL, dst + " (" + d.size() + " bytes) is smaller than "
                            + src + " (" + s.size() + " bytes)");
                }
                VdiCopier.copy(s, d, existing, dst, progress);
            }
        }
    }

    /** Grows the image at {@code uri} to {@code size} bytes; shrinking is refused. */
    public void resize(String uri, long size) throws IOException {
        resize(uri, size, false);
    }

    /**
     * Resizes the image at {@code uri} to {@code size} bytes (VHD: its virtual size; raw: the storage). Making
     * it smaller cuts off the data beyond the new end, so, as with {@code qemu-img resize --shrink}, only when
     * {@code shrink} says so.
     */
    public void resize(String uri, long size, boolean shrink) throws IOException {
        try (BlockDevice d = devices.open(DeviceUri.parse(uri), OpenOptions.DEFAULT)) {
            if (size < d.size() && !shrink) {
                throw new BlockDeviceException(BlockError.EINVAL, "resizing " + uri + " from " + d.size() + " to "
                        + size + " bytes cuts off the data beyond the new end; pass --shrink to do that");
            }
            if (d instanceof Qcow2Device q) {
                q.resizeSync(size, shrink);
            } else if (d instanceof VhdDevice v) {
                v.resizeSync(size, shrink);
            } else {
                Io.join(d.resize(size));
            }
        }
    }
}
