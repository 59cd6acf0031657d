package io.tapdisk4j.image;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.Extent;

import java.util.List;

/** One image of a chain (a VHD, a qcow2 image): what it holds itself, and what lies under it. */
public interface ImageLayer extends BlockDevice {

    /**
     * This image's own allocation over a range: data (and zero runs it records itself) as allocated extents,
     * holes where reads go to the backing image.
     */
    List<Extent> layerAllocation(long offset, long length) throws BlockDeviceException;

    /** The opened image below this one (a VHD parent, a qcow2 backing file), or null. */
    BlockDevice backing();
}
