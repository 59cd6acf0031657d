package io.tapdisk4j.image;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Crash-ordered metadata writes: each stage of writes goes out only after a flush has made everything written
 * before it durable, so metadata never points at data (or at other metadata) a power cut could still lose.
 * VHD writes one stage (bitmaps and BAT sectors after their data); qcow2 writes refcounts, then L2 tables,
 * then L1 entries, each stage behind a flush.
 */
public final class MetadataBarrier {

    /** One metadata write: {@code bytes} at {@code offset} in the file. */
    public record Write(long offset, byte[] bytes) {
    }

    private MetadataBarrier() {
    }

    /** Flush, then the stage's writes (issued together). Nothing to write: no flush either. */
    public static void afterFlush(BlockDevice file, List<Write> stage) throws BlockDeviceException {
        if (stage.isEmpty()) {
            return;
        }
        Io.join(file.flush());
        writeAll(file, stage);
    }

    /** Each non-empty stage behind a flush of everything before it. */
    public static void stages(BlockDevice file, List<List<Write>> stages) throws BlockDeviceException {
        for (List<Write> s : stages) {
            afterFlush(file, s);
        }
    }

    /** The writes issued together and awaited; the first failure is reported after all completed. */
    public static void writeAll(BlockDevice file, List<Write> writes) throws BlockDeviceException {
        List<CompletableFuture<Void>> io = new ArrayList<>();
        for (Write w : writes) {
            io.add(Io.writeAsync(file, w.offset(), w.bytes()));
        }
        Io.joinAll(io);
    }
}
