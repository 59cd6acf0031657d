package io.tapdisk4j.app;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.block.cbt.CbtLog;
import io.tapdisk4j.block.cbt.CbtLogs;

import java.io.IOException;

/**
 * The changed-block log's part of {@code vdi snapshot}: before it the leaf's log is marked inconsistent (a
 * crash in between forces a full backup), after it the log is frozen beside the parent and the leaf starts
 * a new one.
 */
final class CbtSnapshots {

    private final DeviceUri leaf;
    private final CbtLog before;

    private CbtSnapshots(DeviceUri leaf, CbtLog before) {
        this.leaf = leaf;
        this.before = before;
    }

    static CbtSnapshots before(String uri) throws IOException {
        DeviceUri u = DeviceUri.parse(uri);
        return new CbtSnapshots(u, CbtLogs.location(u) == null ? null : CbtLogs.beforeSnapshot(u));
    }

    void after(String parent) throws IOException {
        if (before == null) {
            return;
        }
        long size;
        try (BlockDevice d = BlockDevices.loadDefault().open(leaf, OpenOptions.readOnlyOptions())) {
            size = d.size();
        }
        CbtLogs.afterSnapshot(leaf, DeviceUri.parse(parent), before, size);
    }
}
