package io.tapdisk4j.image;

import io.tapdisk4j.block.BlockDeviceException;

/**
 * How one image layer maps its virtual disk onto its file: a walk over a range that reports, in order, runs
 * the layer holds (with their place in the file), runs it leaves to what lies below (a backing image or
 * zeroes), and runs it marks as zeroes itself. VHD (BAT and sector bitmaps) and qcow2 (L1/L2 tables) both
 * implement it; {@link LayerReader} and {@link LayerExtents} build reads and allocation maps on top.
 */
public interface LayerMap {

    /** {@code fileAt} of a run this layer does not hold: read the backing image (or zeroes without one). */
    long BELOW = -1;
    /** {@code fileAt} of a run this layer marks as reading zeroes (a qcow2 zero cluster). */
    long ZERO = -2;
    /** {@code fileAt} of a run the format reads itself ({@link LayerReader.Special}): a compressed cluster. */
    long SPECIAL = -3;

    /** One run of bytes at disk offset {@code at}. */
    interface Run {
        void accept(long at, int bytes, long fileAt) throws BlockDeviceException;
    }

    void walk(long offset, long length, Run run) throws BlockDeviceException;
}
