package io.tapdisk4j.app;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.BlockStatus;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.DirtyBitmap;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.block.cbt.CbtBitmaps;
import io.tapdisk4j.block.cbt.CbtLog;
import io.tapdisk4j.block.cbt.CbtLogs;
import io.tapdisk4j.nbd.NbdProtocol;
import io.tapdisk4j.vhd.VdiProgress;
import io.tapdisk4j.vhd.VhdDevice;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Changed blocks between two snapshots of one chain, and backups: a full copy of a VDI onto a backup image,
 * or an incremental one that copies only the blocks changed since the snapshot the backup holds.
 */
final class VdiBackup {

    private static final int CHUNK = 1 << 20;
    private static final int DEPTH = 8;

    private final BlockDevices devices = BlockDevices.loadDefault();

    /** The images from {@code newUri} through its parents down to {@code baseUri} (both included). */
    List<DeviceUri> chain(String baseUri, String newUri) throws IOException {
        DeviceUri base = DeviceUri.parse(baseUri);
        List<DeviceUri> out = new ArrayList<>();
        try (BlockDevice d = devices.open(DeviceUri.parse(newUri), OpenOptions.readOnlyOptions())) {
            DeviceUri at = DeviceUri.parse(newUri);
            BlockDevice dev = d;
            while (true) {
                out.add(at);
                if (same(at, base)) {
                    return out;
                }
                if (!(dev instanceof VhdDevice v) || v.parentUri() == null) {
                    throw new BlockDeviceException(BlockError.EINVAL, baseUri + " is not " + newUri + " or one of its parents"
                            + " (chain: " + out + ")");
                }
                at = v.parentUri();
                dev = v.parent();
            }
        }
    }

    private static boolean same(DeviceUri a, DeviceUri b) {
        if (a.scheme().equals("file") && b.scheme().equals("file")) {
            return Path.of(a.path()).toAbsolutePath().normalize().equals(Path.of(b.path()).toAbsolutePath().normalize());
        }
        return a.text().equals(b.text());
    }

    /** Blocks changed between snapshot {@code base} and {@code newer}: from RBD's diff, else see {@link CbtLogs#changed}. */
    BitSet changed(String base, String newer) throws IOException {
        BitSet fromStorage = RbdSnapshotChanges.changed(devices, base, newer);
        return fromStorage != null ? fromStorage : CbtLogs.changed(chain(base, newer));
    }

    /** What a backup did. */
    record Result(boolean incremental, String why, long bytesCopied) {
    }

    /**
     * Copies {@code src} onto {@code dst}: the blocks changed since {@code since} when given and the logs
     * allow it, else everything (zeroes written over what {@code src} does not hold, since {@code dst} may
     * be an older backup). {@code dst} is created as a raw image when it cannot be opened.
     */
    Result backup(String src, String dst, String since, VdiProgress progress) throws IOException {
        BitSet changed = null;
        String why = "no --since: full backup";
        if (since != null) {
            try {
                changed = changed(since, src);
                why = "incremental since " + since;
            } catch (BlockDeviceException e) {
                why = "full backup: " + e.getMessage();
            }
        }
        try (BlockDevice s = devices.open(DeviceUri.parse(src), OpenOptions.readOnlyOptions())) {
            if (since != null && changed == null && DeviceUri.parse(src).scheme().startsWith("nbd")) {
                // A remote VDI: its chain and logs are out of reach, but its export may offer the changes.
                DirtyBitmap remote = s.dirtyBitmaps().isEmpty() ? null : s.dirtyBitmaps().getFirst();
                if (remote != null) {
                    changed = dirtyBlocks(remote, s.size());
                    why = "incremental since " + since + " from the export's " + NbdProtocol.DIRTY_BITMAP + remote.name();
                } else {
                    why = "full backup: " + src + " offers no " + NbdProtocol.DIRTY_BITMAP + "NAME context";
                }
            }
            BlockDevice d;
            boolean existed = true;
            try {
                d = devices.open(dst);
            } catch (IOException missing) {
                if (changed != null) {
                    throw new BlockDeviceException(BlockError.EINVAL, "an incremental backup goes onto the backup of "
                            + since + ", but " + dst + " cannot be opened: " + missing.getMessage());
                }
                existed = false;
                d = devices.create(DeviceUri.parse(dst), s.size(), "raw");
            }
            try (BlockDevice target = d) {
                if (target.size() != s.size()) {
                    throw new BlockDeviceException(BlockError.EINVAL, dst + " holds " + target.size() + " bytes, "
                            + src + " " + s.size() + ": not a backup of this VDI");
                }
                long copied = changed != null ? copyChanged(s, target, changed, progress)
                        : copyAll(s, target, existed, progress);
                join(target.flush());
                return new Result(changed != null, why, copied);
            }
        }
    }

    /** The 64 KiB blocks {@code bitmap} marks dirty anywhere in them. */
    static BitSet dirtyBlocks(DirtyBitmap bitmap, long size) throws IOException {
        BitSet out = new BitSet();
        try {
            for (BlockStatus r : bitmap.status(0, size)) {
                if ((r.value() & 1) != 0) {
                    out.set(Math.toIntExact(r.offset() / CbtLog.BLOCK_SIZE),
                            Math.toIntExact((r.end() + CbtLog.BLOCK_SIZE - 1) / CbtLog.BLOCK_SIZE));
                }
            }
        } catch (IllegalStateException e) {
            throw new BlockDeviceException(BlockError.EIO, e.getMessage(), e);
        }
        return out;
    }

    private long copyChanged(BlockDevice s, BlockDevice d, BitSet changed, VdiProgress progress) throws IOException {
        List<long[]> extents = CbtBitmaps.extents(changed, s.size());
        long total = extents.stream().mapToLong(e -> e[1]).sum();
        long done = 0;
        ArrayDeque<CompletableFuture<Void>> inFlight = new ArrayDeque<>();
        progress.update("backup", 0, total);
        for (long[] e : extents) {
            for (long off = e[0]; off < e[0] + e[1]; off += CHUNK) {
                checkCancelled(progress, inFlight, d);
                int n = (int) Math.min(CHUNK, e[0] + e[1] - off);
                long at = off;
                inFlight.add(s.read(at, n).thenCompose(b -> d.write(at, b, false)));
                if (inFlight.size() >= DEPTH) {
                    join(inFlight.poll());
                }
                done += n;
                progress.update("backup", done, total);
            }
        }
        drain(inFlight);
        return total;
    }

    private long copyAll(BlockDevice s, BlockDevice d, boolean overwrite, VdiProgress progress) throws IOException {
        long total = s.size();
        long copied = 0;
        ArrayDeque<CompletableFuture<Void>> inFlight = new ArrayDeque<>();
        progress.update("backup", 0, total);
        for (long pos = 0; pos < total; ) {
            List<Extent> map = join(s.allocation(pos, Math.min(total - pos, 1L << 30)));
            if (map.isEmpty()) {
                map = List.of(Extent.data(pos, Math.min(total - pos, 1L << 30)));
            }
            for (Extent e : map) {
                if (e.zero()) {
                    if (overwrite) {
                        inFlight.add(d.writeZeroes(e.offset(), e.length(), true));
                    }
                } else {
                    for (long off = e.offset(); off < e.end(); off += CHUNK) {
                        checkCancelled(progress, inFlight, d);
                        int n = (int) Math.min(CHUNK, e.end() - off);
                        long at = off;
                        inFlight.add(s.read(at, n).thenCompose(b -> d.write(at, b, false)));
                        if (inFlight.size() >= DEPTH) {
                            join(inFlight.poll());
                        }
                        copied += n;
                        progress.update("backup", off + n, total);
                    }
                }
                pos = e.end();
                progress.update("backup", pos, total);
            }
        }
        drain(inFlight);
        return copied;
    }

    private static void checkCancelled(VdiProgress p, ArrayDeque<CompletableFuture<Void>> inFlight, BlockDevice d)
            throws IOException {
        if (p.cancelled()) {
            drain(inFlight);
            join(d.flush());
            throw new BlockDeviceException(BlockError.EIO, "backup interrupted: the backup image is incomplete;"
                    + " run a full backup");
        }
    }

    private static void drain(ArrayDeque<CompletableFuture<Void>> inFlight) throws IOException {
        IOException first = null;
        while (!inFlight.isEmpty()) {
            try {
                join(inFlight.poll());
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    static <T> T join(CompletableFuture<T> f) throws IOException {
        try {
            return f.get(10, TimeUnit.MINUTES);
        } catch (ExecutionException | CompletionException e) {
            Throwable c = BlockDeviceException.unwrap(e);
            throw c instanceof IOException io ? io : new IOException(c.getMessage(), c);
        } catch (TimeoutException e) {
            throw new BlockDeviceException(BlockError.ETIMEDOUT, "an I/O took more than 10 minutes");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockDeviceException(BlockError.EIO, "interrupted");
        }
    }
}
