package io.tapdisk4j.qcow2;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.vhd.VdiInfo;
import io.tapdisk4j.vhd.VhdCreator;
import io.tapdisk4j.vhd.VhdDevice;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** The qcow2 side of the {@code vdi} operations: what {@code info} reports, and new children for snapshots. */
public final class Qcow2Info {

    private Qcow2Info() {
    }

    public static VdiInfo of(String uri, Qcow2Device q, long storage) throws IOException {
        List<String> chain = new ArrayList<>();
        chain.add(uri);
        BlockDevice below = q.backing();
        DeviceUri belowUri = q.backingUri();
        while (below != null) {
            chain.add(belowUri.text());
            if (below instanceof Qcow2Device bq) {
                belowUri = bq.backingUri();
                below = bq.backing();
            } else if (below instanceof VhdDevice v) {
                belowUri = v.parentUri();
                below = v.parent();
            } else {
                below = null;
            }
        }
        long allocated = 0;
        for (Extent e : q.layerAllocation(0, q.size())) {
            if (!e.hole() && !e.zero()) {
                allocated += e.length();
            }
        }
        String type = (q.header().extendedL2() ? "extended-l2, " : "") + "v" + q.header().version()
                + (q.snapshots().isEmpty() ? "" : ", " + q.snapshots().size() + " internal snapshots: "
                + String.join(" ", q.snapshots().stream().map(s -> s.id() + "=" + s.name()).toList()));
        return new VdiInfo(uri, "qcow2", type, q.size(), allocated, storage, q.clusterSize(), null,
                q.backingUri() == null ? null : q.backingUri().text(), chain);
    }

    /**
     * Writes a new qcow2 image onto {@code t} backed by {@code parent}: named relative to the child where the
     * storage resolves that back (as QEMU does), else by absolute path (file:) or device URI.
     */
    public static void createChild(BlockDevice t, DeviceUri child, DeviceUri parent, BlockDevices devices)
            throws IOException {
        long size;
        String format;
        int clusterSize = Qcow2Creator.DEFAULT_CLUSTER_SIZE;
        boolean ext = false;
        try (BlockDevice p = devices.open(parent, OpenOptions.readOnlyOptions())) {
            size = p.size();
            if (p instanceof Qcow2Device q) {
                format = "qcow2";
                clusterSize = q.clusterSize();
                ext = q.header().extendedL2();
            } else {
                format = p instanceof VhdDevice ? "vpc" : "raw";
            }
        }
        String name = VhdCreator.relativeName(child, parent, devices);
        if (name != null && name.startsWith("./")) {
            name = name.substring(2);
        }
        if (name == null) {
            name = parent.scheme().equals("file") ? parent.path() : parent.text();
        }
        Qcow2Creator.create(t, size, new Qcow2Creator.Options(clusterSize, ext, name, format));
    }
}
