package io.tapdisk4j.vhd;

import io.tapdisk4j.image.Io;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.DeviceUri;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Writes new VHD images onto a transport. Layout of a sparse disk: footer copy at 0, dynamic header at 512,
 * BAT at 1536, parent locator texts (differencing), then data blocks appended as they are written, and the
 * footer in the last 512 bytes. The footer copy at 0, which is what makes the storage look like a VHD, is
 * written last.
 */
public final class VhdCreator {

    private VhdCreator() {
    }

    /** The parent of a new differencing disk: its identity and the locator texts to record. */
    public record ParentSpec(VhdFooter footer, String name, Map<Integer, String> locators) {
    }

    static void checkSize(long size) throws BlockDeviceException {
        if (size <= 0) {
            throw new BlockDeviceException(BlockError.EINVAL, "a VHD needs a size above zero");
        }
        if (size > VhdFooter.MAX_SIZE) {
            throw new BlockDeviceException(BlockError.EFBIG, "VHD images are limited to 2040 GiB by the format; "
                    + size + " bytes (" + io.tapdisk4j.block.Sizes.format(size) + ") requested");
        }
    }

    public static VhdFooter createFixed(BlockDevice transport, long size) throws BlockDeviceException {
        checkSize(size);
        long rounded = (size + 511) / 512 * 512;
        VhdFooter f = VhdFooter.create(DiskType.FIXED, rounded, UUID.randomUUID());
        long total = rounded + VhdFooter.SIZE;
        if (transport.has(Capability.RESIZE)) {
            Io.join(transport.resize(total));
        } else if (transport.size() != total) {
            throw new BlockDeviceException(BlockError.EINVAL, transport.describe() + ": a fixed VHD of " + rounded
                    + " bytes needs storage of exactly " + total + " bytes");
        }
        Io.write(transport, rounded, f.encode());
        Io.join(transport.flush());
        return f;
    }

    public static VhdFooter createDynamic(BlockDevice transport, long size, int blockSize) throws BlockDeviceException {
        return createSparse(transport, size, blockSize, null);
    }

    static VhdFooter createSparse(BlockDevice transport, long size, int blockSize, ParentSpec parent)
            throws BlockDeviceException {
        checkSize(size);
        if (blockSize < 4096 || blockSize > (256 << 20) || Integer.bitCount(blockSize) != 1) {
            throw new BlockDeviceException(BlockError.EINVAL, "VHD block size must be a power of two from 4 KiB to 256 MiB");
        }
        long rounded = (size + 511) / 512 * 512;
        int entries = (int) ((rounded + blockSize - 1) / blockSize);
        long table = VhdFooter.SIZE + VhdDynamicHeader.SIZE;
        long pos = table + BlockAllocationTable.bytesOnDisk(entries);
        List<ParentLocator> locs = new ArrayList<>();
        List<byte[]> texts = new ArrayList<>();
        if (parent != null) {
            for (Map.Entry<Integer, String> e : parent.locators().entrySet()) {
                byte[] text = ParentLocator.encodeText(e.getKey(), e.getValue());
                long space = Math.max(512, (text.length + 511) / 512 * 512);
                locs.add(new ParentLocator(e.getKey(), (int) (space / 512), text.length, pos));
                texts.add(text);
                pos += space;
            }
        }
        while (locs.size() < 8) {
            locs.add(ParentLocator.EMPTY);
        }
        long fileSize = pos + VhdFooter.SIZE;
        DiskType type = parent == null ? DiskType.DYNAMIC : DiskType.DIFFERENCING;
        VhdFooter f = VhdFooter.create(type, rounded, UUID.randomUUID());
        VhdDynamicHeader h = VhdDynamicHeader.create(table, entries, blockSize);
        if (parent != null) {
            h = h.withParent(parent.footer().uniqueId(), parent.footer().timestamp(), parent.name(), locs);
        }
        long end;
        if (transport.has(Capability.RESIZE)) {
            Io.join(transport.resize(fileSize));
            end = fileSize;
        } else if (transport.size() >= fileSize) {
            end = transport.size(); // a LUN: the footer goes in its last sector
            Io.write(transport, 0, new byte[VhdFooter.SIZE]); // no stale footer copy while we write
        } else {
            throw new BlockDeviceException(BlockError.ENOSPC, transport.describe() + " (" + transport.size()
                    + " bytes) is too small for the VHD metadata (" + fileSize + " bytes)");
        }
        Io.write(transport, table, BlockAllocationTable.empty(entries).encode());
        for (int i = 0; i < texts.size(); i++) {
            byte[] padded = java.util.Arrays.copyOf(texts.get(i), (int) (locs.get(i).dataSpace() * 512L));
            Io.write(transport, locs.get(i).dataOffset(), padded);
        }
        Io.write(transport, VhdFooter.SIZE, h.encode());
        Io.write(transport, end - VhdFooter.SIZE, f.encode());
        Io.join(transport.flush());
        Io.write(transport, 0, f.encode());
        Io.join(transport.flush());
        return f;
    }

    /**
     * Writes a differencing disk onto {@code transport} (at {@code childUri}) whose parent is the VHD at
     * {@code parentUri}. Locators: W2ru when the parent can be named relative to the child, W2ku for a
     * local parent's absolute path, and MacX with the parent's full URI always.
     */
    public static VhdFooter createDifferencing(BlockDevice transport, DeviceUri childUri, DeviceUri parentUri,
                                               BlockDevices devices, int blockSize) throws java.io.IOException {
        VhdFooter parentFooter;
        long parentSize;
        try (BlockDevice p = devices.open(parentUri, io.tapdisk4j.block.OpenOptions.readOnlyOptions())) {
            if (!(p instanceof VhdDevice v)) {
                throw new BlockDeviceException(BlockError.EINVAL, parentUri + " is not a VHD; a differencing disk needs a VHD parent");
            }
            parentFooter = v.footer();
            parentSize = v.size();
        }
        Map<Integer, String> locators = new java.util.LinkedHashMap<>();
        String relative = relativeName(childUri, parentUri, devices);
        if (relative != null) {
            locators.put(ParentLocator.W2RU, relative);
        }
        if (parentUri.scheme().equals("file")) {
            locators.put(ParentLocator.W2KU, parentUri.path());
        }
        locators.put(ParentLocator.MACX, parentUri.text());
        String name = parentUri.path().isEmpty() ? parentUri.text()
                : Path.of(parentUri.path()).getFileName() == null ? parentUri.text()
                : Path.of(parentUri.path()).getFileName().toString();
        return createSparse(transport, parentSize, blockSize, new ParentSpec(parentFooter, name, locators));
    }

    /** A name for the parent relative to the child that the child's transport resolves back to the parent. */
    public static String relativeName(DeviceUri child, DeviceUri parent, BlockDevices devices) {
        if (!child.scheme().equals(parent.scheme()) || child.path().isEmpty() || parent.path().isEmpty()) {
            return null;
        }
        try {
            Path c = Path.of(child.path()).getParent();
            if (c == null) {
                return null;
            }
            String rel = "./" + c.relativize(Path.of(parent.path())).toString();
            DeviceUri back = devices.provider(child).resolve(child, rel);
            if (back != null && Path.of(back.path()).normalize().equals(Path.of(parent.path()).normalize())
                    && java.util.Objects.equals(back.host(), parent.host()) && back.port() == parent.port()) {
                return rel;
            }
        } catch (BlockDeviceException | IllegalArgumentException e) {
            return null;
        }
        return null;
    }
}
