package io.tapdisk4j.vhd;

import io.tapdisk4j.image.ChainGuard;
import io.tapdisk4j.image.Io;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDeviceProvider;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Differencing chains: finding a parent from its locators and refusing loops and absurd depths.
 *
 * <p>Locators are tried in the order W2ru (relative to the child, so a chain can be moved as a whole),
 * W2ku (absolute path), MacX (a full device URI, our choice for network storage). A candidate is the parent
 * only if its unique id is the one the child's header records.
 */
public final class VhdChain {

    /** See {@link ChainGuard#MAX_DEPTH}. */
    public static final int MAX_DEPTH = ChainGuard.MAX_DEPTH;

    private VhdChain() {
    }

    record Resolved(BlockDevice device, DeviceUri uri) {
    }

    static void enter(VhdFooter footer, String where) throws BlockDeviceException {
        ChainGuard.enter(footer.uuid(), where);
    }

    static void leave(VhdFooter footer) {
        ChainGuard.leave(footer.uuid());
    }

    /** The candidate parent URIs from a child's locators, in the order they are tried. */
    public static List<DeviceUri> candidates(BlockDevice transport, DeviceUri child, VhdDynamicHeader header,
                                             BlockDevices devices) throws BlockDeviceException {
        List<DeviceUri> out = new ArrayList<>();
        BlockDeviceProvider provider = devices.provider(child);
        for (int code : new int[]{ParentLocator.W2RU, ParentLocator.W2KU, ParentLocator.MACX}) {
            for (ParentLocator l : header.locators()) {
                if (l.platformCode() != code || l.dataLength() <= 0) {
                    continue;
                }
                String text = l.decodeText(Io.read(transport, l.dataOffset(), l.dataLength()));
                if (text.isEmpty()) {
                    continue;
                }
                DeviceUri u = null;
                try {
                    if (code == ParentLocator.MACX) {
                        u = DeviceUri.parse(text);
                    } else if (code == ParentLocator.W2KU && child.scheme().equals("file")) {
                        u = DeviceUri.parse("file://" + text.replace('\\', '/'));
                    } else {
                        u = provider.resolve(child, text.replace('\\', '/'));
                    }
                } catch (IllegalArgumentException e) {
                    u = null; // unusable locator text: try the next one
                }
                if (u != null && !out.contains(u)) {
                    out.add(u);
                }
            }
        }
        return out;
    }

    static Resolved openParent(BlockDevice transport, DeviceUri child, VhdDynamicHeader header, BlockDevices devices)
            throws BlockDeviceException {
        List<DeviceUri> candidates = candidates(transport, child, header, devices);
        if (candidates.isEmpty()) {
            throw new BlockDeviceException(BlockError.EIO, child + ": differencing VHD without a usable parent locator");
        }
        UUID want = header.parentUuid();
        List<String> tried = new ArrayList<>();
        for (DeviceUri u : candidates) {
            if (u.text().equals(child.text())) {
                throw new BlockDeviceException(BlockError.EIO, child + ": parent loop: the image names itself as parent");
            }
            BlockDevice d;
            try {
                d = devices.open(u, OpenOptions.readOnlyOptions().withFormat("vhd"));
            } catch (BlockDeviceException e) {
                if (ChainGuard.isChainError(e)) {
                    throw e;
                }
                tried.add(u + " (" + e.getMessage() + ")");
                continue;
            } catch (IOException | RuntimeException e) {
                tried.add(u + " (" + e.getMessage() + ")");
                continue;
            }
            if (d instanceof VhdDevice v && v.footer().uuid().equals(want)) {
                return new Resolved(d, u);
            }
            tried.add(u + " (unique id " + (d instanceof VhdDevice v ? v.footer().uuid() : "none")
                    + ", expected " + want + ")");
            d.close();
        }
        throw new BlockDeviceException(BlockError.EIO, child + ": parent not found; tried " + String.join("; ", tried));
    }
}
