package io.tapdisk4j.vhd;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.OpenOptions;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * The {@code vdi} operations on any device URI: create, info, check, snapshot, clone, coalesce, copy and
 * resize. Every operation works on images nobody else has open. Long ones report through {@link VdiProgress}
 * and stop at a consistent point when it says so; the images are valid at every step (the VHD write path is
 * crash safe), so an interrupted copy leaves a valid, partly filled destination and an interrupted coalesce
 * leaves the child unchanged.
 */
public final class VdiOperations {

    /** Bytes per read/write while copying or coalescing. */
    static final int CHUNK = 4 << 20;
    /** Requests in flight while copying. */
    static final int DEPTH = 4;

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
        long storage;
        try (BlockDevice t = devices.openTransport(u, OpenOptions.readOnlyOptions())) {
            storage = t.size();
        }
        try (BlockDevice d = devices.open(u, OpenOptions.readOnlyOptions())) {
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
            long allocated = 0;
            for (Extent e : allocationOf(d, 0, d.size())) {
                if (!e.hole()) {
                    allocated += e.length();
                }
            }
            return new VdiInfo(uri, "raw", null, d.size(), allocated, storage, 0, null, null, chain);
        }
    }

    public VhdChecker.Result check(String uri) {
        return VhdChecker.check(devices, DeviceUri.parse(uri));
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
        int blockSize = requireVhd(u);
        String name = u.path().substring(u.path().lastIndexOf('/') + 1);
        String base = name.endsWith(".vhd") ? name.substring(0, name.length() - 4) : name;
        String parentName = base + ".snap-" + UUID.randomUUID().toString().substring(0, 8) + ".vhd";
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
        int blockSize = requireVhd(p);
        createChild(p, DeviceUri.parse(newUri), blockSize);
        markReadOnly(p);
    }

    private int requireVhd(DeviceUri u) throws IOException {
        try (BlockDevice d = devices.open(u, OpenOptions.readOnlyOptions())) {
            if (!(d instanceof VhdDevice v)) {
                throw new BlockDeviceException(BlockError.EINVAL, u + " is not a VHD: snapshots and clones need VHD images"
                        + " (convert with 'vdi copy SRC DST --format vhd')");
            }
            return v.blockSize() > 0 ? v.blockSize() : VhdDynamicHeader.DEFAULT_BLOCK_SIZE;
        }
    }

    private void createChild(DeviceUri parent, DeviceUri child, int blockSize) throws IOException {
        try (BlockDevice t = devices.provider(child).create(child, 0)) {
            VhdCreator.createDifferencing(t, child, parent, devices, blockSize);
        }
    }

    private static void markReadOnly(DeviceUri u) {
        if (u.scheme().equals("file")) {
            Path.of(u.path()).toFile().setWritable(false, false);
        }
    }

    /**
     * Merges the differencing image at {@code uri} into its parent: every sector the child holds is written
     * into the parent, the parent is flushed, and only then is the child emptied (it stays at {@code uri}, a
     * child with no blocks, so the URI reads the same throughout). Any other child of the same parent sees
     * the merged data: coalesce a parent only when {@code uri} is its one child.
     */
    public void coalesce(String uri, VdiProgress progress) throws IOException {
        DeviceUri u = DeviceUri.parse(uri);
        // Untracked: emptying the child changes no virtual block (the parent now holds the same data).
        try (BlockDevice d = devices.open(u, OpenOptions.DEFAULT.withUntracked(true))) {
            if (!(d instanceof VhdDevice child) || child.diskType() != DiskType.DIFFERENCING) {
                throw new BlockDeviceException(BlockError.EINVAL, uri + " is not a differencing VHD: nothing to coalesce");
            }
            DeviceUri parentUri = child.parentUri();
            if (parentUri.scheme().equals("file")) {
                Path.of(parentUri.path()).toFile().setWritable(true, true);
            }
            // The parent's log (frozen with the snapshot) describes the snapshot; what coalesce copies is
            // already there logically, so it must not show up as changed.
            try (BlockDevice parent = devices.open(parentUri, OpenOptions.DEFAULT.withFormat("vhd").withUntracked(true))) {
                if (parent.size() < child.size()) {
                    Io.join(parent.resize(child.size()));
                }
                List<Extent> extents = child.layerAllocation(0, child.size());
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
                        ByteBuf data = Io.join(child.read(off, n));
                        Io.join(parent.write(off, data, false));
                        done += n;
                        progress.update("coalesce", done, total);
                    }
                }
                Io.join(parent.flush());
            } finally {
                markReadOnly(parentUri);
            }
            child.emptyLayer();
        }
    }

    /**
     * Copies {@code src} to a new image at {@code dst} (raw or vhd), reading only what the source's
     * allocation map says holds data: holes and zero runs are skipped, so thin images stay thin.
     */
    public void copy(String src, String dst, String format, VdiProgress progress) throws IOException {
        try (BlockDevice s = devices.open(DeviceUri.parse(src), OpenOptions.readOnlyOptions())) {
            String f = format == null ? "raw" : format;
            if (f.equalsIgnoreCase("vhd")) {
                VhdCreator.checkSize(s.size());
            }
            try (BlockDevice d = devices.create(DeviceUri.parse(dst), s.size(), f)) {
                long total = s.size();
                progress.update("copy", 0, total);
                ArrayDeque<CompletableFuture<Void>> inFlight = new ArrayDeque<>();
                for (long pos = 0; pos < total; ) {
                    List<Extent> map = allocationOf(s, pos, Math.min(total - pos, 1L << 30));
                    for (Extent e : map) {
                        if (!e.zero()) {
                            for (long off = e.offset(); off < e.end(); off += CHUNK) {
                                if (progress.cancelled()) {
                                    drain(inFlight);
                                    d.flush().join();
                                    throw new BlockDeviceException(BlockError.EIO, "copy interrupted at byte " + off
                                            + "; " + dst + " is a valid image holding the data copied so far");
                                }
                                int n = (int) Math.min(CHUNK, e.end() - off);
                                long at = off;
                                inFlight.add(s.read(at, n).thenCompose(b -> d.write(at, b, false)));
                                if (inFlight.size() >= DEPTH) {
                                    Io.join(inFlight.poll());
                                }
                                progress.update("copy", off + n, total);
                            }
                        }
                        pos = e.end();
                        progress.update("copy", pos, total);
                    }
                }
                drain(inFlight);
                Io.join(d.flush());
            }
        }
    }

    private static void drain(ArrayDeque<CompletableFuture<Void>> inFlight) throws BlockDeviceException {
        BlockDeviceException first = null;
        while (!inFlight.isEmpty()) {
            try {
                Io.join(inFlight.poll());
            } catch (BlockDeviceException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    private static List<Extent> allocationOf(BlockDevice d, long offset, long length) throws BlockDeviceException {
        if (length == 0) {
            return List.of();
        }
        List<Extent> got = Io.join(d.allocation(offset, length));
        return got.isEmpty() ? List.of(Extent.data(offset, length)) : got;
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
            if (d instanceof VhdDevice v) {
                v.resizeSync(size, shrink);
            } else {
                Io.join(d.resize(size));
            }
        }
    }
}
