package io.tapdisk4j.block.cbt;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;

/**
 * A log in a local file whose bitmap is mapped shared, as blktap's log driver keeps it: a store lands in the
 * page cache at once, with no system call, and survives the process. Flushes msync it.
 */
final class MappedLog implements OpenLog {

    private static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Log syncs leave the I/O threads to this pool: an fdatasync may take milliseconds. */
    private static final ExecutorService SYNCS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "cbt-sync");
        t.setDaemon(true);
        return t;
    });

    private final Path file;
    private final FileChannel channel;
    private final CbtLog opened;
    private final long bitmapBytes;
    private final Arena arena;
    private final MemorySegment mapped;
    private volatile boolean unsynced;

    private MappedLog(Path file, FileChannel channel, CbtLog opened, Arena arena, MemorySegment mapped) {
        this.file = file;
        this.channel = channel;
        this.opened = opened;
        this.bitmapBytes = CbtLog.bitmapBytes(opened.size());
        this.arena = arena;
        this.mapped = mapped;
    }

    static MappedLog open(Path file) throws IOException {
        CbtLog current = CbtLog.read(file);
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        Arena arena = Arena.ofShared();
        try {
            CbtLog.writeConsistent(ch, false);
            MemorySegment bitmap = ch.map(FileChannel.MapMode.READ_WRITE, CbtLog.HEADER_SIZE,
                    CbtLog.bitmapBytes(current.size()), arena);
            return new MappedLog(file, ch, current, arena, bitmap);
        } catch (IOException | RuntimeException e) {
            arena.close();
            ch.close();
            throw e;
        }
    }

    @Override
    public CbtLog opened() {
        return opened;
    }

    /** Throws (an InternalError on SIGBUS: the file was cut short under us) when the store fails. */
    @Override
    public CompletableFuture<Void> store(int word, long value) {
        long at = (long) word * 8;
        if (at + 8 <= bitmapBytes) {
            mapped.set(WORD, at, value);
        } else {
            for (long i = at; i < bitmapBytes; i++) { // the bitmap's last, partial word
                mapped.set(ValueLayout.JAVA_BYTE, i, (byte) (value >>> (8 * (i - at))));
            }
        }
        unsynced = true;
        return null;
    }

    @Override
    public boolean unsynced() {
        return unsynced;
    }

    @Override
    public CompletableFuture<Void> sync() {
        return CompletableFuture.runAsync(() -> {
            try {
                unsynced = false;
                mapped.force(); // outside the device's lock: an msync must not hold up first writes
            } catch (IllegalStateException closedMeanwhile) {
                // close() synced the log itself
            } catch (RuntimeException e) {
                unsynced = true;
                throw new CompletionException(new BlockDeviceException(BlockError.EIO,
                        "cannot sync changed-block log " + file + ": " + e.getMessage()));
            }
        }, SYNCS);
    }

    @Override
    public void close(boolean consistent) throws IOException {
        try {
            mapped.force();
            arena.close();
            CbtLog.writeConsistent(channel, consistent);
        } finally {
            channel.close();
        }
    }

    @Override
    public String describe() {
        return file.toString();
    }
}
