package io.tapdisk4j.qcow2;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.FormatProvider;
import io.tapdisk4j.block.OpenOptions;

import java.io.IOException;

/** The "qcow2" image format for {@link BlockDevices}: probed by its magic; new images are version 3, 64 KiB clusters. */
public final class Qcow2FormatProvider implements FormatProvider {

    @Override
    public String name() {
        return "qcow2";
    }

    @Override
    public boolean probe(BlockDevice transport) throws IOException {
        return Qcow2Opener.probe(transport);
    }

    @Override
    public BlockDevice open(BlockDevice transport, DeviceUri uri, OpenOptions options, BlockDevices devices)
            throws IOException {
        return Qcow2Opener.open(transport, uri, options.readOnly(), devices);
    }

    @Override
    public void create(BlockDevice transport, long virtualSize) throws IOException {
        Qcow2Creator.create(transport, virtualSize, Qcow2Creator.Options.defaults());
    }
}
