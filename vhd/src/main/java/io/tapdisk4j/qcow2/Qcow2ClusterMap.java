package io.tapdisk4j.qcow2;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.image.Io;
import io.tapdisk4j.image.LayerMap;

import java.util.concurrent.CompletableFuture;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * A qcow2 image's {@link LayerMap}: a range walked through the L1 and L2 tables (and, with extended L2
 * entries, the subcluster bitmaps). Adjacent runs of the same kind, and data runs contiguous in the file, are
 * merged, so a sequential read of a sequentially written image is one read of the file. Compressed clusters
 * (and data clusters a truncated file cuts short) are read by {@link #readSpecial}.
 */
final class Qcow2ClusterMap implements LayerMap {

    /** One cluster's state, as a lookup returns it. */
    record Lookup(L2Table table, int index, long entry, long bitmap) {
    }

    private final Qcow2Image image;
    private final Qcow2Tables tables;

    Qcow2ClusterMap(Qcow2Image image, Qcow2Tables tables) {
        this.image = image;
        this.tables = tables;
    }

    /** The entry of the cluster holding virtual offset {@code pos}; table null when it has no L2 table. */
    Lookup lookup(long pos) throws BlockDeviceException {
        long c = pos >>> image.clusterBits;
        int per = image.header.l2Entries();
        L2Table t = tables.l2((int) (c / per));
        if (t == null) {
            return new Lookup(null, (int) (c % per), 0, 0);
        }
        int i = (int) (c % per);
        return new Lookup(t, i, t.entry(i), t.bitmap(i));
    }

    /**
     * Where {@code [pos, pos + n)} lies in the file when it is one contiguous run of clusters this image holds
     * (written in place, tables already cached, no subcluster left to fill); -1 otherwise. The request fast
     * path: no thread hop, no I/O for metadata.
     */
    long contiguousInFile(long pos, int n) {
        int cs = image.clusterSize;
        int per = image.header.l2Entries();
        long end = pos + n;
        long start = -1;
        long p = pos;
        while (p < end) {
            long c = p >>> image.clusterBits;
            L2Table t = tables.cached((int) (c / per));
            if (t == null) {
                return -1;
            }
            int i = (int) (c % per);
            long e = t.entry(i);
            int in = (int) (p & (cs - 1));
            int k = (int) Math.min(cs - in, end - p);
            if (L2Entry.compressed(e) || (e & L2Entry.COPIED) == 0 || L2Entry.offset(e) == 0
                    || !image.extendedL2 && L2Entry.zeroFlag(e)
                    || image.extendedL2 && !allSubclustersAllocated(t.bitmap(i), in, k)) {
                return -1;
            }
            long host = L2Entry.offset(e) + in;
            if (start < 0) {
                start = host;
            } else if (host != start + (p - pos)) {
                return -1;
            }
            p += k;
        }
        return start + n <= image.transport.size() ? start : -1;
    }

    private boolean allSubclustersAllocated(long bitmap, int in, int n) {
        int sub = image.clusterSize / L2Entry.SUBCLUSTERS;
        for (int s = in / sub; s <= (in + n - 1) / sub; s++) {
            if (!L2Entry.subAllocated(bitmap, s)) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void walk(long offset, long length, Run run) throws BlockDeviceException {
        Merger m = new Merger(run);
        int cs = image.clusterSize;
        long fileSize = image.transport.size();
        long pos = offset;
        long end = offset + length;
        boolean v3 = image.header.version() >= 3;
        while (pos < end) {
            int in = (int) (pos & (cs - 1));
            int n = (int) Math.min(cs - in, end - pos);
            Lookup l = lookup(pos);
            long e = l.entry();
            long host = L2Entry.offset(e);
            if (L2Entry.compressed(e)) {
                m.flushPending();
                run.accept(pos, n, SPECIAL);
            } else if (!image.extendedL2) {
                if (v3 && L2Entry.zeroFlag(e)) {
                    m.add(pos, n, ZERO);
                } else if (host == 0) {
                    m.add(pos, n, BELOW);
                } else if (host + in + n > fileSize) {
                    m.flushPending();
                    run.accept(pos, n, SPECIAL);
                } else {
                    m.add(pos, n, host + in);
                }
            } else {
                int sub = cs / L2Entry.SUBCLUSTERS;
                long bm = l.bitmap();
                int p = in;
                while (p < in + n) {
                    int s = p / sub;
                    int k = Math.min(in + n, (s + 1) * sub) - p;
                    long v = pos - in + p;
                    if (L2Entry.subAllocated(bm, s) && host != 0) {
                        if (host + p + k > fileSize) {
                            m.flushPending();
                            run.accept(v, k, SPECIAL);
                        } else {
                            m.add(v, k, host + p);
                        }
                    } else if (L2Entry.subZero(bm, s)) {
                        m.add(v, k, ZERO);
                    } else {
                        m.add(v, k, BELOW);
                    }
                    p += k;
                }
            }
            pos += n;
        }
        m.flushPending();
    }

    /** Joins adjacent runs of one kind, and file runs that are contiguous in the file too. */
    private static final class Merger {
        private final Run run;
        private long at = -1;
        private long bytes;
        private long fileAt;

        Merger(Run run) {
            this.run = run;
        }

        void add(long a, int n, long f) throws BlockDeviceException {
            if (at >= 0 && at + bytes == a && bytes + n <= (1 << 30)
                    && (f < 0 ? f == fileAt : fileAt >= 0 && fileAt + bytes == f)) {
                bytes += n;
                return;
            }
            flushPending();
            at = a;
            bytes = n;
            fileAt = f;
        }

        void flushPending() throws BlockDeviceException {
            if (at >= 0) {
                run.accept(at, (int) bytes, fileAt);
                at = -1;
            }
        }
    }

    /** A run inside one cluster that {@link #walk} marked SPECIAL: a compressed cluster, or data cut short. */
    CompletableFuture<ByteBuf> readSpecial(long at, int bytes) {
        return Io.async(image.describe(), () -> {
            Lookup l = lookup(at);
            int in = (int) (at & (image.clusterSize - 1));
            ByteBuf out = Buffers.direct(bytes);
            try {
                if (L2Entry.compressed(l.entry())) {
                    byte[] cluster = decompress(l.entry());
                    out.writeBytes(cluster, in, bytes);
                } else {
                    long from = L2Entry.offset(l.entry()) + in;
                    long have = Math.max(0, Math.min(bytes, image.transport.size() - from));
                    if (have > 0) {
                        out.writeBytes(Io.readAligned(image.transport, from, (int) have));
                    }
                    out.writeZero(bytes - (int) have);
                }
                return out;
            } catch (Throwable t) {
                out.release();
                throw t;
            }
        });
    }

    /** A compressed cluster's contents: raw deflate (no zlib header), as QEMU writes it. */
    byte[] decompress(long entry) throws BlockDeviceException {
        long off = L2Entry.compressedOffset(entry, image.clusterBits);
        long len = Math.min(L2Entry.compressedLength(entry, image.clusterBits), image.transport.size() - off);
        if (len <= 0 || len > 2L * image.clusterSize + 512) {
            throw image.corrupt("compressed cluster at " + off + " of " + len + " bytes");
        }
        byte[] in = Io.readAligned(image.transport, off, (int) len);
        byte[] out = new byte[image.clusterSize];
        Inflater inf = new Inflater(true);
        try {
            inf.setInput(in);
            int got = 0;
            while (got < out.length) {
                int k = inf.inflate(out, got, out.length - got);
                if (k == 0 && (inf.finished() || inf.needsInput() || inf.needsDictionary())) {
                    break;
                }
                got += k;
            }
            if (got != out.length) {
                throw image.corrupt("compressed cluster at " + off + " inflates to " + got + " bytes, not "
                        + out.length);
            }
            return out;
        } catch (DataFormatException e) {
            throw image.corrupt("compressed cluster at " + off + ": " + e.getMessage());
        } finally {
            inf.end();
        }
    }
}
