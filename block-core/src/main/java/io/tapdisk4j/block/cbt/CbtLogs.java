package io.tapdisk4j.block.cbt;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;

/**
 * Where an image's changed-block log lives and what the commands do with it. The log sits beside the image,
 * named as the image with {@code .cbtlog} for its extension ({@code disk.vhd} -> {@code disk.cbtlog}), as
 * XenServer keeps {@code UUID.cbtlog} beside {@code UUID.vhd}. Images on local files ({@code file:}) have
 * them there; any URI may name its log with {@code ?cbtlog=/path/NAME.cbtlog}.
 */
public final class CbtLogs {

    private CbtLogs() {
    }

    /** The log of the image at {@code uri}, or null when its storage cannot hold one. */
    public static Path logPath(DeviceUri uri) {
        java.util.Optional<String> named = uri.param("cbtlog");
        if (named.isPresent()) {
            return Path.of(named.get()); // a log kept elsewhere, for storage that has no "beside" (memory:, null:, nbd:)
        }
        if (!uri.scheme().equals("file") || uri.path() == null || uri.path().isEmpty()) {
            return null;
        }
        Path image = Path.of(uri.path());
        String name = image.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String base = dot > 0 ? name.substring(0, dot) : name;
        return image.resolveSibling(base + ".cbtlog");
    }

    /**
     * The device to hand out for {@code uri}: with tracking when it is opened for writing and a log lies
     * beside it, else {@code device} itself. Closes {@code device} when the log cannot be opened.
     */
    public static BlockDevice track(DeviceUri uri, OpenOptions options, BlockDevice device) throws IOException {
        if (options.readOnly() || options.untracked()) {
            return device;
        }
        Path log = logPath(uri);
        if (log == null || !Files.exists(log)) {
            return device;
        }
        try {
            return ChangeTrackingDevice.open(device, log);
        } catch (IOException | RuntimeException e) {
            device.close();
            throw e;
        }
    }

    /** Starts tracking: a new empty, consistent log. Returns false when one exists already. */
    public static boolean enable(DeviceUri uri, long size) throws IOException {
        Path log = required(uri);
        if (Files.exists(log)) {
            CbtLog.read(log); // an existing log must at least be sound
            return false;
        }
        CbtLog.empty(CbtLog.NIL, size).write(log);
        return true;
    }

    /** Stops tracking: deletes the log. Returns false when there was none. */
    public static boolean disable(DeviceUri uri) throws IOException {
        return Files.deleteIfExists(required(uri));
    }

    /** The image's log, or null when tracking is off. */
    public static CbtLog status(DeviceUri uri) throws IOException {
        Path log = logPath(uri);
        return log == null || !Files.exists(log) ? null : CbtLog.read(log);
    }

    /**
     * Before a snapshot: marks the leaf's log inconsistent, so a crash between the snapshot and
     * {@link #afterSnapshot} leaves a log that forces a full backup. Returns the log as it was, or null.
     */
    public static CbtLog beforeSnapshot(DeviceUri leaf) throws IOException {
        Path log = logPath(leaf);
        if (log == null || !Files.exists(log)) {
            return null;
        }
        CbtLog before = CbtLog.read(log);
        before.withConsistent(false).write(log);
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
        Path frozen = required(parent);
        before.write(frozen);
        CbtLog.empty(before.child(), size).write(required(leaf));
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
        Path log = required(uri);
        if (!Files.exists(log)) {
            throw new BlockDeviceException(BlockError.EINVAL, uri + " has no changed-block log (" + log
                    + "): tracking was off; a full backup is needed");
        }
        CbtLog l = CbtLog.read(log);
        if (!l.consistent()) {
            throw new InconsistentLogException(log);
        }
        return l;
    }

    private static Path required(DeviceUri uri) throws BlockDeviceException {
        Path log = logPath(uri);
        if (log == null) {
            throw new BlockDeviceException(BlockError.ENOTSUP, "changed-block tracking keeps its log in a local file:"
                    + " beside a file: image, or named with ?cbtlog=/local/PATH.cbtlog on " + uri
                    + " (and on every URI that opens it for writing)");
        }
        return log;
    }

    /** A log left inconsistent by a process that did not close it: only a full backup is safe. */
    public static final class InconsistentLogException extends BlockDeviceException {
        public InconsistentLogException(Path log) {
            super(BlockError.EINVAL, "changed-block log " + log + " is inconsistent (the process tracking it"
                    + " stopped without closing it): a full backup is needed");
        }
    }
}
