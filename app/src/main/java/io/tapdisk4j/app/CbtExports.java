package io.tapdisk4j.app;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.cbt.BitmapView;
import io.tapdisk4j.block.cbt.CbtBitmaps;
import io.tapdisk4j.block.cbt.CbtLog;
import io.tapdisk4j.block.cbt.CbtLogs;

import java.io.IOException;
import java.util.BitSet;

/** Which changed-block bitmap an NBD export offers as {@code qemu:dirty-bitmap:cbt}. */
final class CbtExports {

    private CbtExports() {
    }

    /**
     * {@code device} as exported: with {@code --dirty-since BASE} the changes between BASE and {@code uri};
     * read-only with a log beside it, the log as it is (writable opens track, and offer their live log).
     */
    static BlockDevice withBitmap(BlockDevice device, String uri, String dirtySince) throws IOException {
        try {
            if (dirtySince != null) {
                BitSet bits = new VdiBackup().changed(dirtySince, uri);
                return new BitmapView(device, CbtBitmaps.fixed("cbt", bits));
            }
            if (device.dirtyBitmaps().isEmpty()) {
                CbtLog log = CbtLogs.status(DeviceUri.parse(uri));
                if (log != null) {
                    return new BitmapView(device, CbtBitmaps.fixed("cbt", log.bits()));
                }
            }
            return device;
        } catch (IOException | RuntimeException e) {
            device.close();
            throw e;
        }
    }
}
