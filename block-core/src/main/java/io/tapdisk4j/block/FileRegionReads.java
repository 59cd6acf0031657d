package io.tapdisk4j.block;

import io.netty.channel.FileRegion;

/**
 * Optional for a {@link BlockDevice} whose bytes lie as they are in a file (a raw image): a range of the
 * device as a region of that file, which a frontend writes to its socket in place of a buffer, so that the
 * kernel sends page-cache pages without copying them through user memory (sendfile on epoll).
 *
 * <p>Frontends test for it with {@code instanceof} and fall back to {@link BlockDevice#read} whenever it
 * answers null. A wrapper implements it only when it leaves reads unchanged (a device that transforms or
 * watches reads must not pass its delegate's regions on).
 *
 * <h2>Ownership</h2>
 * The caller owns the region's one reference: writing it to a channel hands that reference to the channel
 * (which releases it once sent or when the connection closes); a caller that does not write it releases it.
 * Releasing a region never closes the device's file.
 *
 * <h2>Consistency</h2>
 * The bytes are those in the file when the kernel sends them, not when the region was made: a read that
 * overlaps a write in time may see either (or a mix), as with {@code read}.
 */
public interface FileRegionReads {

    /**
     * The device's bytes {@code [offset, offset+length)} as a region of its file, or null when this range
     * cannot be sent that way now: not all of it is in the page cache (sending it would block the caller's
     * thread on the disk), the range is invalid, or the device cannot tell. The page cache is checked when the
     * region is made: a page evicted before the kernel sends it is read from the disk by the sending thread.
     */
    FileRegion readRegion(long offset, int length);
}
