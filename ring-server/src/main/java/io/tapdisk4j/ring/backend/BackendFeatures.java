package io.tapdisk4j.ring.backend;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.ring.blkif.Blkif;

import java.util.LinkedHashMap;
import java.util.Map;

/** The xenstore keys a backend writes about itself, so the control plane and tests agree on them. */
public final class BackendFeatures {

    private BackendFeatures() {
    }

    /** Keys written before moving to InitWait (2): what the frontend may negotiate. */
    public static Map<String, String> initWaitKeys(BlockDevice device, DataPath dataPath, int maxIndirectSegments) {
        Map<String, String> k = new LinkedHashMap<>();
        k.put("max-ring-page-order", Integer.toString(BlkifBackend.MAX_RING_PAGE_ORDER));
        k.put("multi-queue-max-queues", Integer.toString(BlkifBackend.MAX_QUEUES));
        k.put("feature-max-indirect-segments", Integer.toString(maxIndirectSegments));
        k.put("feature-persistent", dataPath == DataPath.PERSISTENT ? "1" : "0");
        // As blkback: both follow the device's flush support. blkfront prefers flush-cache when both are 1;
        // a barrier advertised for a device with nothing to flush only made every guest fsync drain the ring.
        boolean flush = device.has(Capability.FLUSH);
        k.put("feature-flush-cache", flush ? "1" : "0");
        k.put("feature-barrier", flush ? "1" : "0");
        boolean discard = device.has(Capability.DISCARD);
        k.put("feature-discard", discard ? "1" : "0");
        if (discard) {
            k.put("discard-granularity", Integer.toString(device.physicalBlockSize()));
            k.put("discard-alignment", "0");
            k.put("discard-secure", device.has(Capability.SECURE_DISCARD) ? "1" : "0");
        }
        return k;
    }

    /** Keys written before moving to Connected (4): the disk's geometry and mode. */
    public static Map<String, String> connectKeys(BlockDevice device, boolean readOnly) {
        Map<String, String> k = new LinkedHashMap<>();
        k.put("sectors", Long.toString(device.size() / 512));
        k.put("sector-size", "512");
        k.put("physical-sector-size", Integer.toString(Math.max(512, device.physicalBlockSize())));
        boolean ro = readOnly || device.has(Capability.READ_ONLY);
        k.put("info", Integer.toString(ro ? Blkif.VDISK_READONLY : 0));
        return k;
    }
}
