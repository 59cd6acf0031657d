package io.tapdisk4j.ring.hv.sim;

import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantStatus;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;

import static io.tapdisk4j.ring.hv.sim.SimLayout.*;

/**
 * dom0's view of one guest: its memory and grant-table files mapped MAP_SHARED. Grant entries are checked
 * at every use, reading the flags with acquire ordering because the guest writes them last.
 */
final class SimDomain implements AutoCloseable {

    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();

    final int domid;
    final Object fileKey;
    private final Arena arena = Arena.ofShared();
    private final FileChannel memoryChannel;
    final MemorySegment memory;
    final MemorySegment grants;
    final long frames;
    final long grantEntries;

    private SimDomain(int domid, Object fileKey, FileChannel mc, FileChannel gc) throws IOException {
        this.domid = domid;
        this.fileKey = fileKey;
        this.memoryChannel = mc;
        this.memory = mc.map(FileChannel.MapMode.READ_WRITE, 0, mc.size(), arena);
        this.grants = gc.map(FileChannel.MapMode.READ_ONLY, 0, gc.size(), arena);
        this.frames = memory.byteSize() / PAGE_SIZE;
        this.grantEntries = grants.byteSize() / GRANT_ENTRY_SIZE;
    }

    static Object fileKey(Path dir, int domid) {
        try {
            return Files.readAttributes(memory(dir, domid), BasicFileAttributes.class).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    static SimDomain open(Path dir, int domid) throws GrantException {
        Path mem = memory(dir, domid);
        Path gt = grantTable(dir, domid);
        FileChannel mc = null;
        try {
            Object key = Files.readAttributes(mem, BasicFileAttributes.class).fileKey();
            mc = FileChannel.open(mem, StandardOpenOption.READ, StandardOpenOption.WRITE);
            try (FileChannel gc = FileChannel.open(gt, StandardOpenOption.READ)) {
                return new SimDomain(domid, key, mc, gc);
            }
        } catch (NoSuchFileException e) {
            closeQuietly(mc);
            throw new GrantException(GrantStatus.BAD_DOMAIN, "no simulated domain " + domid + " in " + dir);
        } catch (IOException e) {
            closeQuietly(mc);
            throw new GrantException(GrantStatus.GENERAL_ERROR, "cannot open domain " + domid + ": " + e.getMessage());
        }
    }

    private static void closeQuietly(FileChannel c) {
        if (c != null) {
            try {
                c.close();
            } catch (IOException ignored) {
                // nothing more to release
            }
        }
    }

    /**
     * Checks grant {@code ref} for use by domain {@code user}; returns the frame, or a negative GNTST_*.
     * {@code write}: the backend will write into the page.
     */
    long check(int ref, int user, boolean write) {
        if (ref < 0 || ref >= grantEntries) {
            return GrantStatus.BAD_GNTREF;
        }
        // The whole grant_entry_v1 in one aligned 8-byte read: a consistent snapshot of flags, domid and
        // frame (little-endian: flags in the low 16 bits, frame in the high 32), read with acquire ordering.
        long entry = (long) LONG.getAcquire(grants, (long) ref * GRANT_ENTRY_SIZE);
        int flags = (int) (entry >>> (8 * GRANT_FLAGS)) & 0xffff;
        int dom = (int) (entry >>> (8 * GRANT_DOMID)) & 0xffff;
        long frame = entry >>> (8 * GRANT_FRAME);
        if ((flags & GrantStatus.GTF_TYPE_MASK) != GrantStatus.GTF_PERMIT_ACCESS || dom != user) {
            return GrantStatus.PERMISSION_DENIED;
        }
        if (write && (flags & GrantStatus.GTF_READONLY) != 0) {
            return GrantStatus.PERMISSION_DENIED;
        }
        if (frame >= frames) {
            return GrantStatus.BAD_PAGE;
        }
        return frame;
    }

    FileChannel memoryChannel() {
        return memoryChannel;
    }

    @Override
    public void close() {
        try {
            arena.close();
        } catch (IllegalStateException ignored) {
            // already closed
        }
        closeQuietly(memoryChannel);
    }
}
