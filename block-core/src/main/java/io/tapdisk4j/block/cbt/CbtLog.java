package io.tapdisk4j.block.cbt;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;
import java.util.UUID;

/**
 * A changed-block log file, laid out as blktap's {@code .cbtlog} ({@code struct cbt_log_metadata} then the
 * bitmap, x86-64 layout): parent UUID (16 bytes), child UUID (16), {@code int consistent} (4, little-endian,
 * then 4 bytes of padding), {@code uint64 size} in bytes of the disk (8, little-endian), then one bit per
 * 64 KiB block, bit {@code n} in byte {@code n/8} at {@code 1 << n%8}, {@code ceil(blocks/8)} bytes.
 *
 * <p>This class reads and writes whole logs (the commands' side); a log being tracked into is held by
 * {@link ChangeTrackingDevice}. Every read checks the file against its header, so a truncated or hostile file
 * gives an error naming what is wrong instead of a wrong bitmap.
 */
public final class CbtLog {

    public static final int BLOCK_SIZE = 64 * 1024;
    public static final int HEADER_SIZE = 48;
    static final int CONSISTENT_AT = 32;
    static final int SIZE_AT = 40;
    /** 256 TiB, far beyond any VDI (VHD stops at 2 TiB); a size field beyond it is garbage. */
    static final long MAX_SIZE = 1L << 48;

    private final UUID parent;
    private final UUID child;
    private final boolean consistent;
    private final long size;
    private final BitSet bits;

    public CbtLog(UUID parent, UUID child, boolean consistent, long size, BitSet bits) {
        this.parent = parent;
        this.child = child;
        this.consistent = consistent;
        this.size = size;
        this.bits = bits;
    }

    /** A new, empty, consistent log for a disk of {@code size} bytes. */
    public static CbtLog empty(UUID parent, long size) {
        return new CbtLog(parent, UUID.randomUUID(), true, size, new BitSet());
    }

    public static long blocks(long size) {
        return (size + BLOCK_SIZE - 1) / BLOCK_SIZE;
    }

    public static long bitmapBytes(long size) {
        return (blocks(size) + 7) / 8;
    }

    /** The UUID of the log this one follows (the log frozen at the snapshot before), or the nil UUID. */
    public UUID parent() {
        return parent;
    }

    /** This log's own identity (what the next log names as its parent). */
    public UUID child() {
        return child;
    }

    public boolean consistent() {
        return consistent;
    }

    public long size() {
        return size;
    }

    /** The changed blocks (a copy). */
    public BitSet bits() {
        return (BitSet) bits.clone();
    }

    public CbtLog withConsistent(boolean c) {
        return new CbtLog(parent, child, c, size, bits);
    }

    public static final UUID NIL = new UUID(0, 0);

    /** Reads and checks a log. */
    public static CbtLog read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new BlockDeviceException(BlockError.EINVAL, "no changed-block log at " + file);
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return parse(file.toString(), ch.size(), (b, at) -> readFully(ch, b, at));
        }
    }

    /** Reads {@code b.remaining()} bytes at {@code at} into {@code b}. */
    @FunctionalInterface
    interface Source {
        void readFully(ByteBuffer b, long at) throws IOException;
    }

    /** Reads and checks the log {@code name}, a file of {@code length} bytes read through {@code source}. */
    static CbtLog parse(String name, long length, Source source) throws IOException {
        if (length < HEADER_SIZE) {
            throw bad(name, "is " + length + " bytes, shorter than its " + HEADER_SIZE + "-byte header (truncated)");
        }
        ByteBuffer h = ByteBuffer.allocate(HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        source.readFully(h, 0);
        h.flip();
        UUID parent = uuid(h, 0);
        UUID child = uuid(h, 16);
        int consistent = h.getInt(CONSISTENT_AT);
        long size = h.getLong(SIZE_AT);
        if (consistent != 0 && consistent != 1) {
            throw bad(name, "has consistency flag " + consistent + " (0 or 1 expected): not a changed-block log, or damaged");
        }
        if (size <= 0 || size > MAX_SIZE) {
            throw bad(name, "names a disk of " + size + " bytes: not a changed-block log, or damaged");
        }
        long want = HEADER_SIZE + bitmapBytes(size);
        if (length < want) {
            throw bad(name, "is " + length + " bytes but a disk of " + size + " bytes needs " + want + " (truncated)");
        }
        if (length > want) {
            throw bad(name, "is " + length + " bytes but a disk of " + size + " bytes needs " + want + " (trailing bytes)");
        }
        ByteBuffer b = ByteBuffer.allocate((int) (want - HEADER_SIZE)).order(ByteOrder.LITTLE_ENDIAN);
        source.readFully(b, HEADER_SIZE);
        b.flip();
        return new CbtLog(parent, child, consistent == 1, size, BitSet.valueOf(b));
    }

    /** Writes the whole log to {@code file} (through a temporary file and a rename, so a crash leaves the old or the new). */
    public void write(Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            ch.write(encode(), 0);
            ch.force(true);
        }
        Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    ByteBuffer encode() {
        int bytes = (int) bitmapBytes(size);
        ByteBuffer b = ByteBuffer.allocate(HEADER_SIZE + bytes).order(ByteOrder.LITTLE_ENDIAN);
        putUuid(b, 0, parent);
        putUuid(b, 16, child);
        b.putInt(CONSISTENT_AT, consistent ? 1 : 0);
        b.putLong(SIZE_AT, size);
        byte[] raw = bits.toByteArray();
        b.put(HEADER_SIZE, raw, 0, Math.min(raw.length, bytes));
        return b;
    }

    /** The bitmap's bytes as the log holds them (XAPI's {@code list_changed_blocks} answers them in base64). */
    public static byte[] bitmapBytes(BitSet bits, long size) {
        byte[] out = new byte[(int) bitmapBytes(size)];
        byte[] raw = bits.toByteArray();
        System.arraycopy(raw, 0, out, 0, Math.min(raw.length, out.length));
        return out;
    }

    /** The consistency flag as the log holds it. */
    static ByteBuffer flag(boolean consistent) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, consistent ? 1 : 0);
    }

    /** Rewrites only the consistency flag, durably. */
    static void writeConsistent(FileChannel ch, boolean consistent) throws IOException {
        ByteBuffer b = flag(consistent);
        ch.write(b, CONSISTENT_AT);
        ch.force(false);
    }

    private static BlockDeviceException bad(String name, String what) {
        return new BlockDeviceException(BlockError.EINVAL, "changed-block log " + name + " " + what);
    }

    static void readFully(FileChannel ch, ByteBuffer b, long at) throws IOException {
        long pos = at;
        while (b.hasRemaining()) {
            int n = ch.read(b, pos);
            if (n < 0) {
                throw new BlockDeviceException(BlockError.EIO, "unexpected end of file reading changed-block log");
            }
            pos += n;
        }
    }

    private static UUID uuid(ByteBuffer b, int at) {
        ByteBuffer be = b.duplicate().order(ByteOrder.BIG_ENDIAN);
        return new UUID(be.getLong(at), be.getLong(at + 8));
    }

    private static void putUuid(ByteBuffer b, int at, UUID u) {
        ByteBuffer be = b.duplicate().order(ByteOrder.BIG_ENDIAN);
        be.putLong(at, u.getMostSignificantBits());
        be.putLong(at + 8, u.getLeastSignificantBits());
    }
}
