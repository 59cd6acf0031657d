package io.tapdisk4j.qcow2;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.image.Io;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** The internal snapshot table, read for listing only. */
public final class Qcow2Snapshots {

    /** One internal snapshot: its id, name, date (seconds), and the disk size it recorded (0 if unknown). */
    public record Snapshot(String id, String name, long dateSeconds, long diskSize) {
    }

    private Qcow2Snapshots() {
    }

    static List<Snapshot> read(BlockDevice file, Qcow2Header h, String where) throws BlockDeviceException {
        List<Snapshot> out = new ArrayList<>();
        if (h.nbSnapshots() == 0) {
            return out;
        }
        long at = h.snapshotsOffset();
        long fileSize = file.size();
        for (int i = 0; i < h.nbSnapshots(); i++) {
            if (at + 40 > fileSize) {
                throw new BlockDeviceException(io.tapdisk4j.block.BlockError.EIO, where
                        + ": snapshot table runs past the end of the file");
            }
            ByteBuffer b = ByteBuffer.wrap(Io.readAligned(file, at, 40));
            int idLen = b.getShort(12) & 0xFFFF;
            int nameLen = b.getShort(14) & 0xFFFF;
            long date = Integer.toUnsignedLong(b.getInt(16));
            int extra = b.getInt(36);
            if (extra < 0 || extra > 1024 || at + 40 + extra + idLen + nameLen > fileSize) {
                throw new BlockDeviceException(io.tapdisk4j.block.BlockError.EIO, where + ": snapshot " + i
                        + " has an invalid entry");
            }
            ByteBuffer rest = ByteBuffer.wrap(Io.readAligned(file, at + 40, extra + idLen + nameLen));
            long disk = extra >= 16 ? rest.getLong(8) : 0;
            String id = new String(rest.array(), extra, idLen, StandardCharsets.UTF_8);
            String name = new String(rest.array(), extra + idLen, nameLen, StandardCharsets.UTF_8);
            out.add(new Snapshot(id, name, date, disk));
            at += (40L + extra + idLen + nameLen + 7) / 8 * 8;
        }
        return List.copyOf(out);
    }
}
