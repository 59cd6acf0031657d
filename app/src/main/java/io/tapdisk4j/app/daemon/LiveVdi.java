package io.tapdisk4j.app.daemon;

import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.ring.xenbus.Tapback;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenbus.VbdInfo;
import io.tapdisk4j.vhd.VdiOperations;
import io.tapdisk4j.vhd.VdiProgress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * VDI operations on an image a guest is using, as XenServer's storage manager does them: pause the VBD
 * (its image chain is closed), change the images, resume it on the result. {@code ctl snapshot} and
 * {@code ctl coalesce} run here, inside the daemon that owns the image.
 */
final class LiveVdi {

    private static final Logger log = LoggerFactory.getLogger(LiveVdi.class);
    private static final long STEP_SECONDS = 120;

    private final Tapback tapback;
    private final BlockDevices devices;
    private final VdiOperations vdi;

    LiveVdi(Tapback tapback, BlockDevices devices) {
        this.tapback = tapback;
        this.devices = devices;
        this.vdi = new VdiOperations(devices);
    }

    private String uriOf(VbdId id) {
        VbdInfo info = tapback.device(id.domid(), id.devid())
                .orElseThrow(() -> new IllegalArgumentException("no device " + id));
        if (info.uri() == null) {
            throw new IllegalArgumentException(id + " has no image open (" + info.phase() + ")");
        }
        return info.uri();
    }

    private void pause(VbdId id) throws Exception {
        tapback.pause(id).get(STEP_SECONDS, TimeUnit.SECONDS);
    }

    private String resume(VbdId id, String uri) throws Exception {
        return tapback.resume(id, uri).get(STEP_SECONDS, TimeUnit.SECONDS);
    }

    /** Pause, snapshot, resume on the same URI (now the new, empty child); returns the frozen parent's URI. */
    String snapshot(VbdId id) throws Exception {
        String uri = uriOf(id);
        return id + ": " + uri + " is now a child of " + snapshotParent(id);
    }

    private String snapshotParent(VbdId id) throws Exception {
        String uri = uriOf(id);
        pause(id);
        String parent;
        try {
            parent = vdi.snapshot(uri);
        } finally {
            resume(id, null); // on the new child, or, if the snapshot failed, on the image as it was
        }
        log.info("{}: live snapshot of {}: frozen as {}", id, DeviceUri.redact(uri), DeviceUri.redact(parent));
        return parent;
    }

    /**
     * Online leaf-coalesce: merges the leaf {@code L} a guest writes into its parent {@code P}, which then takes
     * its place, while the guest keeps writing. (1) pause, snapshot L (its data freezes as S, a new empty
     * L' child of S takes L's name), resume; (2) merge S into P while the guest writes into L' (P's
     * sectors that change are ones S overrides, so what the guest reads does not change); (3) pause, merge
     * L''s own sectors into P, put P at L's name, resume. The guest waits only in (1) and (3).
     */
    String coalesce(VbdId id) throws Exception {
        String leaf = uriOf(id);
        DeviceUri leafUri = DeviceUri.parse(leaf);
        String parent = parentOf(leaf);
        List<String> siblings = vdi.otherChildren(DeviceUri.parse(parent), leafUri);
        if (!siblings.isEmpty()) {
            throw new IllegalArgumentException("cannot coalesce " + leaf + ": its parent " + parent
                    + " has other children (" + String.join(", ", siblings) + "), which would read the merged data");
        }
        String frozen = snapshotParent(id);
        log.info("{}: online coalesce: merging {} into {} while the guest writes", id, DeviceUri.redact(frozen),
                DeviceUri.redact(parent));
        vdi.mergeIntoParent(frozen, List.of(), VdiProgress.NONE, false);
        pause(id);
        String resumeOn = null;
        try {
            vdi.mergeLayerInto(leaf, parent, VdiProgress.NONE);
            // P now holds everything the guest has written: it becomes the leaf, under the leaf's name.
            String name = leafUri.path().substring(leafUri.path().lastIndexOf('/') + 1);
            DeviceUri old = devices.provider(leafUri).resolve(leafUri, name + ".merged-"
                    + UUID.randomUUID().toString().substring(0, 8));
            DeviceUri p = DeviceUri.parse(parent);
            devices.rename(leafUri, old);
            try {
                devices.rename(p, leafUri);
            } catch (IOException | RuntimeException e) {
                devices.rename(old, leafUri); // back as it was: L' over S over P, all intact
                throw e;
            }
            if (leafUri.scheme().equals("file")) {
                Path.of(leafUri.path()).toFile().setWritable(true, true);
            }
            resumeOn = leaf;
            removeQuietly(old);
            removeQuietly(DeviceUri.parse(frozen));
        } finally {
            resume(id, null);
        }
        log.info("{}: online coalesce done: {} merged into {}, now at {}", id, DeviceUri.redact(leaf),
                DeviceUri.redact(parent), DeviceUri.redact(resumeOn));
        return id + ": coalesced " + leaf + " into " + parent + ", which is now " + leaf;
    }

    private String parentOf(String uri) throws IOException {
        String parent = vdi.info(uri).parent();
        if (parent == null) {
            throw new IllegalArgumentException(uri + " is not a differencing VHD: nothing to coalesce");
        }
        return parent;
    }

    private void removeQuietly(DeviceUri u) {
        try {
            devices.provider(u).remove(u);
        } catch (IOException | RuntimeException e) {
            log.warn("online coalesce: could not remove {} (no longer used): {}", u, DeviceUri.redact(e.getMessage()));
        }
    }
}
