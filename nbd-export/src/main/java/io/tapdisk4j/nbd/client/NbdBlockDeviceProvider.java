package io.tapdisk4j.nbd.client;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDeviceProvider;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;

import java.io.IOException;
import java.util.Set;

/** {@code nbd://host[:port]/export}, {@code nbd+unix:///export?socket=PATH}, {@code nbds://…}. */
public final class NbdBlockDeviceProvider implements BlockDeviceProvider {

    @Override
    public Set<String> schemes() {
        return Set.of("nbd", "nbd+unix", "nbds", "nbds+unix");
    }

    @Override
    public BlockDevice open(DeviceUri uri, OpenOptions options) throws IOException {
        NbdClientConfig config;
        try {
            config = NbdClientConfig.fromUri(uri, options.readOnly());
        } catch (IllegalArgumentException e) {
            throw new BlockDeviceException(BlockError.EINVAL, e.getMessage(), e);
        }
        return NbdBlockDevice.open(config);
    }
}
