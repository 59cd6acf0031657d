package io.tapdisk4j.block.cbt;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceProvider;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;

import java.io.IOException;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;

/**
 * Where an image's changed-block log lives and what the commands do with it. The log sits beside the image,
 * named as the image with {@code .cbtlog} for its extension ({@code disk.vhd} -> {@code disk.cbtlog}), as
 * XenServer keeps {@code UUID.cbtlog} beside {@code UUID.vhd}: a local file beside a {@code file:} image, or
 * a file beside the image on its own storage for transports that keep named files ({@code nfs://}: written
 * through the NFS client with stable writes). Any URI may name a local log with {@code ?cbtlog=/path/NAME.cbtlog}
 * (memory:, null:, nbd:, LUNs, which have no "beside").
 */
public final class CbtLogs {

    private CbtLogs() {
    }

    /** The local log file of the image at {@code uri}, or null when its log (if any) is not a local file. */
    public static Path logPath(DeviceUri uri) {
        return location(uri, null) instanceof CbtLogFile.Local l ? l.path() : null;
    }

    /** Where the log of the image at {@code uri} is, or null when its storage cannot hold one. */
    public static CbtLogFile location(DeviceUri uri) {
        return location(uri, BlockDevices.loadDefault());
    }

    /** {@link #location(DeviceUri)} with the given registry; {@code registry} null: local logs only. */
    static CbtLogFile location(DeviceUri uri, BlockDevices registry) {
        java.util.Optional<String> named = uri.param("cbtlog");
        if (named.isPresent()) {
            return new CbtLogFile.Local(Path.of(named.get())); // a log kept elsewhere, for storage that has no "beside"
        }
        if (uri.path() == null || uri.path().isEmpty()) {
            return null;
        }
        String name = Path.of(uri.path()).getFileName().toString();
        int dot = name.lastIndexOf('.');
        String logName = (dot > 0 ? name.substring(0, dot) : name) + ".cbtlog";
        if (uri.scheme().equals("file")) {
            return new CbtLogFile.Local(Path.of(uri.path()).resolveSibling(logName));
        }
        if (registry == null) {
            return null;
        }
        try {
            BlockDeviceProvider provider = registry.provider(uri);
            DeviceUri beside = provider.resolve(uri, logName);
            if (beside == null) {
                return null;
            }
            provider.exists(beside); // storage without named files (RBD, LUNs) refuses: it keeps no log beside
            return new CbtLogFile.OnStorage(beside, registry);
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * The device to hand out for {@code uri}: with tracking when it is opened for writing and a log lies
     * beside it, else {@code device} itself. Closes {@code device} when the log cannot be opened.
     */
    public static BlockDevice track(DeviceUri uri, OpenOptions options, BlockDevice device, BlockDevices registry)
            throws IOException {
        if (options.readOnly() || options.untracked()) {
            return device;
        }
        try {
            CbtLogFile log = uri.scheme().equals("file") || uri.param("cbtlog").isPresent() ? location(uri, null)
                    : trackable(uri, registry);
            if (log == null || !log.exists()) {
                return device;
            }
            return ChangeTrackingDevice.open(device, log);
        } catch (IOException | RuntimeException e) {
            device.close();
            throw e;
        }
    }

    /** Only transports that keep named files are asked for a log beside the image (one LOOKUP at open). */
    private static CbtLogFile trackable(DeviceUri uri, BlockDevices registry) {
        return uri.scheme().equals("nfs") ? location(uri, registry) : null;
    }

    /** Starts tracking: a new empty, consistent log. Returns false when one exists already. */
    public static boolean enable(DeviceUri uri, long size) throws IOException {
        CbtLogFile log = required(uri);
        if (log.exists()) {
            log.read(); // an existing log must at least be sound
            return false;
        }
        log.write(CbtLog.empty(CbtLog.NIL, size));
        return true;
    }

    /** Stops tracking: deletes the log. Returns false when there was none. */
    public static boolean disable(DeviceUri uri) throws IOException {
        return required(uri).delete();
    }

    /** The image's log, or null when tracking is off. */
    public static CbtLog status(DeviceUri uri) throws IOException {
        CbtLogFile log = location(uri);
        return log == null || !log.exists() ? null : log.read();
    }

    /**
     * Before a snapshot: marks the leaf's log inconsistent, so a crash between the snapshot and
     * {@link #afterSnapshot} leaves a log that forces a full backup. Returns the log as it was, or null.
     */
    public static CbtLog beforeSnapshot(DeviceUri leaf) throws IOException {
        CbtLogFile log = location(leaf);
        if (log == null || !log.exists()) {
            return null;
        }
        CbtLog before = log.read();
        log.write(before.withConsistent(false));
        return before;
    }

    /**
     * After a snapshot: the leaf's log is frozen beside the parent (the image that now holds what the leaf
     * held), and the leaf starts a new empty log that names the frozen one as its parent.
     */
    public static void afterSnapshot(DeviceUri leaf, DeviceUri parent, CbtLog before, long size) throws IOException {
        if (before == null) {
            return;
        }
        required(parent).write(before);
        required(leaf).write(CbtLog.empty(before.child(), size));
    }

    /**
     * The blocks changed between snapshot {@code chain.getLast()} (BASE) and {@code chain.getFirst()} (NEW):
     * the union of the logs of every image after BASE up to NEW. {@code chain} runs from NEW to BASE through
     * the images' parents. Fails, saying a full backup is needed, when a log is missing, inconsistent, of
     * another size, or does not follow the one before it.
     */
    public static BitSet changed(List<DeviceUri> chain) throws IOException {
        if (chain.size() < 2) {
            return new BitSet(); // NEW is BASE: nothing changed
        }
        BitSet out = new BitSet();
        CbtLog base = readForDiff(chain.getLast());
        for (int i = chain.size() - 2; i >= 0; i--) {
            CbtLog l = readForDiff(chain.get(i));
            CbtLog before = readForDiff(chain.get(i + 1));
            if (!l.parent().equals(before.child())) {
                throw new BlockDeviceException(BlockError.EINVAL, "changed-block log of " + chain.get(i)
                        + " does not follow the log of " + chain.get(i + 1) + " (tracking was restarted in between):"
                        + " a full backup is needed");
            }
            if (l.size() != base.size()) {
                throw new BlockDeviceException(BlockError.EINVAL, "changed-block log of " + chain.get(i)
                        + " covers " + l.size() + " bytes, the one of " + chain.getLast() + " " + base.size()
                        + " (resized in between): a full backup is needed");
            }
            out.or(l.bits());
        }
        return out;
    }

    private static CbtLog readForDiff(DeviceUri uri) throws IOException {
        CbtLogFile log = required(uri);
        if (!log.exists()) {
            throw new BlockDeviceException(BlockError.EINVAL, uri + " has no changed-block log (" + log
                    + "): tracking was off; a full backup is needed");
        }
        CbtLog l = log.read();
        if (!l.consistent()) {
            throw new InconsistentLogException(log.toString());
        }
        return l;
    }

    private static CbtLogFile required(DeviceUri uri) throws BlockDeviceException {
        CbtLogFile log = location(uri);
        if (log == null) {
            throw new BlockDeviceException(BlockError.ENOTSUP, "changed-block tracking keeps its log beside the image"
                    + " (file:, nfs://) or in a local file named with ?cbtlog=/local/PATH.cbtlog on " + uri
                    + " (and on every URI that opens it for writing)");
        }
        return log;
    }

    /** A log left inconsistent by a process that did not close it: only a full backup is safe. */
    public static final class InconsistentLogException extends BlockDeviceException {
        public InconsistentLogException(String log) {
            super(BlockError.EINVAL, "changed-block log " + log + " is inconsistent (the process tracking it"
                    + " stopped without closing it): a full backup is needed");
        }
    }
}
