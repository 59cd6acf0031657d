package io.tapdisk4j.qcow2;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.image.Io;

/**
 * What QEMU does with an image left dirty (lazy refcounts, then a crash): on a read-write open, the refcounts
 * are rebuilt from the references before anything else is written, and the dirty bit is cleared.
 */
final class Qcow2Repair {

    private Qcow2Repair() {
    }

    static void rebuildRefcounts(Qcow2Device d) throws BlockDeviceException {
        Qcow2References r = Qcow2References.count(d);
        if (!r.overlaps.isEmpty()) {
            throw new BlockDeviceException(BlockError.EIO, d.describe() + ": dirty image with overlapping clusters ("
                    + r.overlaps.getFirst() + "); repair it with 'qemu-img check -r all'");
        }
        Qcow2Refcounts refs = d.refcounts();
        for (long c = 0; c < r.clusters(); c++) {
            if (refs.get(c) != r.count(c)) {
                refs.set(c, r.count(c));
            }
        }
        Qcow2Image image = d.image();
        new Qcow2MetadataWriter(image, d.tables(), refs).flush();
        // refcount blocks created just now counted themselves; clusters beyond the file end read 0 already
        Qcow2Header h = image.header.withIncompatible(image.header.incompatible() & ~Qcow2Header.INCOMPAT_DIRTY);
        Io.writeAligned(image.transport, 0, h.encodeFixed());
        Io.join(image.transport.flush());
        image.header = h;
    }
}
