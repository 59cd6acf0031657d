package io.tapdisk4j.block;

/**
 * A device that can copy a range of itself into another device without the bytes passing through this
 * process: copy_file_range(2) between two local files (the file system may even share the blocks).
 */
public interface RangeCopy {

    /**
     * Copies {@code [offset, offset+length)} to the same offset of {@code target}, blocking. Returns false,
     * having copied nothing, when it cannot for this target (another kind of device, another file system on
     * an old kernel): the caller then copies through buffers.
     */
    boolean copyRangeTo(BlockDevice target, long offset, long length) throws BlockDeviceException;
}
