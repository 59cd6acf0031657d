package io.tapdisk4j.iscsi.device;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDeviceProvider;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.iscsi.session.Discovery;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** {@code iscsi://} devices: a LUN opens as an {@link IscsiBlockDevice}; a portal URL lists its targets (SendTargets). */
public final class IscsiDeviceProvider implements BlockDeviceProvider {

    @Override
    public Set<String> schemes() {
        return Set.of("iscsi");
    }

    @Override
    public BlockDevice open(DeviceUri uri, OpenOptions options) throws IOException {
        IscsiUrl url;
        try {
            url = IscsiUrl.parse(uri);
        } catch (IllegalArgumentException e) {
            throw new BlockDeviceException(BlockError.EINVAL, e.getMessage());
        }
        return IscsiBlockDevice.open(url, url.sessionConfig(), options.readOnly());
    }

    /**
     * A LUN exists before anyone "creates" it: creating storage of {@code size} bytes on one opens it and
     * checks that it is large enough (what {@code vdi copy} to a LUN needs). Its contents are left as they
     * are; the LUN keeps its size.
     */
    @Override
    public BlockDevice create(DeviceUri uri, long size) throws IOException {
        BlockDevice d = open(uri, OpenOptions.DEFAULT);
        if (d.size() < size) {
            long lun = d.size();
            d.close();
            throw new BlockDeviceException(BlockError.ENOSPC, uri + ": the LUN has " + lun + " bytes, " + size
                    + " are needed");
        }
        return d;
    }

    /** {@code iscsi://host[:port]/}: the targets the portal reports, as {@code target-iqn} names. */
    @Override
    public List<String> list(DeviceUri directory) throws IOException {
        IscsiUrl url;
        try {
            url = IscsiUrl.parse(directory);
        } catch (IllegalArgumentException e) {
            throw new BlockDeviceException(BlockError.EINVAL, e.getMessage());
        }
        try {
            List<String> names = new ArrayList<>();
            for (Discovery.DiscoveredTarget t : Discovery.sendTargets(url.host(), url.port(), url.credentials(),
                    Duration.ofSeconds(15)).get(30, TimeUnit.SECONDS)) {
                names.add(t.name());
            }
            return names;
        } catch (ExecutionException e) {
            throw new BlockDeviceException(BlockError.EIO, url.display() + ": discovery failed: "
                    + BlockDeviceException.unwrap(e).getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new BlockDeviceException(BlockError.ETIMEDOUT, url.display() + ": discovery timed out", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockDeviceException(BlockError.EIO, "interrupted", e);
        }
    }
}
