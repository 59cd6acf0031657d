package io.tapdisk4j.vhd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.ForwardingBlockDevice;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A transport that records every change made through it, in the order issued, with the flushes between them,
 * so a test can rebuild the storage as a crash after any change could have left it: with every change issued
 * so far on disk (the process died), or only those a flush made durable (the power failed), or those plus any
 * one later change (the disk wrote that one first).
 */
public final class ChangeLog extends ForwardingBlockDevice {

    public sealed interface Entry {
    }

    public record Write(long offset, byte[] data) implements Entry {
    }

    /** Write-zeroes and discard: both read back as zeroes on the file transports these tests use. */
    public record Zero(long offset, long length) implements Entry {
    }

    public record Resize(long size) implements Entry {
    }

    public record Flush() implements Entry {
    }

    private final List<Entry> entries = Collections.synchronizedList(new ArrayList<>());

    public ChangeLog(BlockDevice delegate) {
        super(delegate);
    }

    public List<Entry> entries() {
        synchronized (entries) {
            return List.copyOf(entries);
        }
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        entries.add(new Write(offset, ByteBufUtil.getBytes(data, data.readerIndex(), data.readableBytes())));
        return delegate.write(offset, data, fua);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        entries.add(new Zero(offset, length));
        return delegate.writeZeroes(offset, length, mayUnmap);
    }

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        entries.add(new Zero(offset, length));
        return delegate.discard(offset, length, secure);
    }

    @Override
    public CompletableFuture<Void> resize(long newSize) {
        entries.add(new Resize(newSize));
        return delegate.resize(newSize);
    }

    @Override
    public CompletableFuture<Void> flush() {
        entries.add(new Flush());
        return delegate.flush();
    }

    /** One state a crash could leave: its name and the storage's bytes. */
    public record CrashImage(String name, byte[] bytes) {
    }

    /** One state a crash could leave, not yet built: the first {@code upTo} entries, plus {@code extra} (or -1). */
    public record CrashPoint(String name, int after, int upTo, int extra) {
        public byte[] bytes(byte[] initial, List<Entry> log) {
            return replay(initial, log, upTo, extra);
        }
    }

    /**
     * Every state a crash after {@code k} issued entries could leave, for each k: everything issued; only what
     * the last flush covered; that plus any one unflushed change.
     */
    public static List<CrashPoint> crashPoints(List<Entry> log) {
        List<CrashPoint> out = new ArrayList<>();
        for (int k = 0; k <= log.size(); k++) {
            int flushed = 0;
            for (int i = 0; i < k; i++) {
                if (log.get(i) instanceof Flush) {
                    flushed = i;
                }
            }
            out.add(new CrashPoint("process died after change " + k, k, k, -1));
            if (flushed < k) {
                out.add(new CrashPoint("power cut after change " + k + " (flushed up to " + flushed + ")", k,
                        flushed, -1));
                for (int j = flushed + 1; j < k; j++) {
                    if (!(log.get(j) instanceof Flush)) {
                        out.add(new CrashPoint("power cut after change " + k + " with only change " + j
                                + " of the unflushed ones on disk", k, flushed, j));
                    }
                }
            }
        }
        return out;
    }

    /** {@link #crashPoints}, built. */
    public static List<CrashImage> crashImages(byte[] initial, List<Entry> log) {
        List<CrashImage> out = new ArrayList<>();
        for (CrashPoint p : crashPoints(log)) {
            out.add(new CrashImage(p.name(), p.bytes(initial, log)));
        }
        return out;
    }

    /** The storage with the first {@code upTo} entries applied, and entry {@code extra} when not negative. */
    static byte[] replay(byte[] initial, List<Entry> log, int upTo, int extra) {
        byte[] s = initial.clone();
        for (int i = 0; i < upTo; i++) {
            s = apply(s, log.get(i));
        }
        return extra >= 0 ? apply(s, log.get(extra)) : s;
    }

    private static byte[] apply(byte[] s, Entry e) {
        return switch (e) {
            case Write w -> {
                byte[] t = w.offset() + w.data().length > s.length ? Arrays.copyOf(s, (int) w.offset() + w.data().length) : s;
                System.arraycopy(w.data(), 0, t, (int) w.offset(), w.data().length);
                yield t;
            }
            case Zero z -> {
                int end = (int) Math.min(s.length, z.offset() + z.length());
                if (z.offset() < end) {
                    Arrays.fill(s, (int) z.offset(), end, (byte) 0);
                }
                yield s;
            }
            case Resize r -> Arrays.copyOf(s, (int) r.size());
            case Flush f -> s;
        };
    }
}
