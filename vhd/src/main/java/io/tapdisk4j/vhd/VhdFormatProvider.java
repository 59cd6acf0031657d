package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.FormatProvider;
import io.tapdisk4j.block.OpenOptions;

import java.io.IOException;

/**
 * The "vhd" image format for {@link BlockDevices}. {@link #create} writes a dynamic disk with 2 MiB blocks;
 * {@code vdi create --format vhd --subformat fixed} and snapshots use {@link VhdCreator} directly.
 */
public final class VhdFormatProvider implements FormatProvider {

    @Override
    public String name() {
        return "vhd";
    }

    @Override
    public boolean probe(BlockDevice transport) throws IOException {
        return VhdOpener.probe(transport);
    }

    @Override
    public BlockDevice open(BlockDevice transport, DeviceUri uri, OpenOptions options, BlockDevices devices)
            throws IOException {
        return VhdOpener.open(transport, uri, options.readOnly(), devices);
    }

    @Override
    public void create(BlockDevice transport, long virtualSize) throws IOException {
        VhdCreator.createDynamic(transport, virtualSize, VhdDynamicHeader.DEFAULT_BLOCK_SIZE);
    }
}
