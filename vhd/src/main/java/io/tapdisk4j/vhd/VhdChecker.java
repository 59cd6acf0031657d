package io.tapdisk4j.vhd;

import io.tapdisk4j.image.Io;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Checks an image and its chain the way {@code vhd-util check} does: footer and its copy, dynamic header,
 * BAT (inside the file, after the metadata, no overlaps), parent locators, and every parent in turn.
 * Problems make the image unusable; warnings are states a crash can leave that the next writable open
 * repairs (a missing footer at the end while the file was growing, unreferenced space).
 */
public final class VhdChecker {

    public record Result(String uri, List<String> problems, List<String> warnings, List<String> chain) {
        public boolean ok() {
            return problems.isEmpty();
        }
    }

    private VhdChecker() {
    }

    public static Result check(BlockDevices devices, DeviceUri uri) {
        List<String> problems = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        List<String> chain = new ArrayList<>();
        DeviceUri current = uri;
        int depth = 0;
        while (current != null && depth++ <= VhdChain.MAX_DEPTH) {
            chain.add(current.text());
            DeviceUri next = checkOne(devices, current, problems, warnings);
            if (next != null && chain.contains(next.text())) {
                problems.add(current + ": parent loop through " + next);
                break;
            }
            current = next;
        }
        if (problems.isEmpty()) {
            // the structure is sound: opening the whole chain (unique ids, loops) must work too
            try (BlockDevice d = devices.open(uri, OpenOptions.readOnlyOptions())) {
                if (!(d instanceof VhdDevice) && chain.size() > 1) {
                    problems.add(uri + ": opened as raw");
                }
            } catch (IOException | RuntimeException e) {
                problems.add(e.getMessage());
            }
        }
        return new Result(uri.text(), List.copyOf(problems), List.copyOf(warnings), List.copyOf(chain));
    }

    /** Checks one image; returns its parent's URI (null for none or when it cannot be found). */
    private static DeviceUri checkOne(BlockDevices devices, DeviceUri uri, List<String> problems, List<String> warnings) {
        try (BlockDevice t = devices.openTransport(uri, OpenOptions.readOnlyOptions())) {
            if (!VhdOpener.probe(t)) {
                return null; // raw: nothing to check in the structure
            }
            String where = uri.text();
            VhdFooter footer;
            try {
                footer = VhdOpener.readFooter(t, where);
            } catch (BlockDeviceException e) {
                problems.add(e.getMessage());
                return null;
            }
            long tsize = t.size();
            byte[] last = Io.read(t, tsize - VhdFooter.SIZE, VhdFooter.SIZE);
            if (footer.diskType() == DiskType.FIXED) {
                if (tsize < footer.currentSize() + VhdFooter.SIZE) {
                    problems.add(where + ": fixed VHD is shorter than its size");
                }
                return null;
            }
            byte[] first = Io.read(t, 0, VhdFooter.SIZE);
            if (!Arrays.equals(first, footer.encode())) {
                warnings.add(where + ": footer copy at offset 0 is damaged; the footer at the end was used");
            }
            VhdDynamicHeader header;
            try {
                if (footer.dataOffset() + VhdDynamicHeader.SIZE > tsize) {
                    problems.add(where + ": dynamic header lies outside the file");
                    return null;
                }
                header = VhdDynamicHeader.parse(Io.read(t, footer.dataOffset(), VhdDynamicHeader.SIZE), where);
            } catch (BlockDeviceException e) {
                problems.add(e.getMessage());
                return null;
            }
            long needed = (footer.currentSize() + header.blockSize() - 1) / header.blockSize();
            if (footer.currentSize() > VhdFooter.MAX_SIZE) {
                problems.add(where + ": size beyond the format's 2040 GiB limit");
            }
            if (needed > header.maxTableEntries()) {
                problems.add(where + ": BAT has " + header.maxTableEntries() + " entries, the size needs " + needed);
                return null;
            }
            long batBytes = BlockAllocationTable.bytesOnDisk(header.maxTableEntries());
            if (header.tableOffset() + batBytes > tsize) {
                problems.add(where + ": BAT lies outside the file");
                return null;
            }
            BlockAllocationTable bat = BlockAllocationTable.parse(Io.read(t, header.tableOffset(), (int) batBytes),
                    header.maxTableEntries());
            long metadataEnd = Math.max(footer.dataOffset() + VhdDynamicHeader.SIZE, header.tableOffset() + batBytes);
            for (ParentLocator l : header.locators()) {
                if (!l.isEmpty()) {
                    if (l.dataOffset() + l.dataLength() > tsize || l.dataLength() < 0 || l.dataLength() > 65536) {
                        problems.add(where + ": parent locator " + l.platformName() + " points outside the file");
                    } else {
                        metadataEnd = Math.max(metadataEnd, l.dataOffset() + l.dataLength());
                    }
                }
            }
            long end;
            try {
                end = VhdOpener.checkBlocks(bat, header, footer, tsize, metadataEnd, where);
            } catch (BlockDeviceException e) {
                problems.add(e.getMessage());
                return null;
            }
            if (!VhdFooter.hasCookie(last)) {
                warnings.add(where + ": no footer in the last sector (the file was growing when it was last"
                        + " written); the copy at offset 0 is intact and the next writable open rewrites it");
            } else if (!Arrays.equals(last, footer.encode())) {
                warnings.add(where + ": the footer at the end differs from the copy at offset 0");
            }
            if (end > tsize - VhdFooter.SIZE && VhdFooter.hasCookie(last)) {
                problems.add(where + ": data blocks run into the footer at the end of the file");
            }
            if (footer.diskType() != DiskType.DIFFERENCING) {
                return null;
            }
            for (DeviceUri candidate : VhdChain.candidates(t, uri, header, devices)) {
                try (BlockDevice pt = devices.openTransport(candidate, OpenOptions.readOnlyOptions())) {
                    VhdFooter pf = VhdOpener.readFooter(pt, candidate.text());
                    if (pf.uuid().equals(header.parentUuid())) {
                        return candidate;
                    }
                } catch (IOException | RuntimeException e) {
                    // try the next locator
                }
            }
            problems.add(where + ": parent " + header.parentUuid() + " not found through its locators "
                    + VhdChain.candidates(t, uri, header, devices));
            return null;
        } catch (IOException | RuntimeException e) {
            problems.add(uri + ": " + e.getMessage());
            return null;
        }
    }
}
