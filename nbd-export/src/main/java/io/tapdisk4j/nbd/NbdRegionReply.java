package io.tapdisk4j.nbd;

import io.netty.channel.FileRegion;

/**
 * A successful READ whose data is a region of the device's file, which the kernel sends from the page
 * cache without a copy through user memory (sendfile): a simple reply, or, with structured replies, one
 * OFFSET_DATA chunk flagged DONE. The reply owns one reference of {@code region}; encoding it passes that
 * reference on to the channel.
 */
public record NbdRegionReply(long cookie, long offset, FileRegion region, boolean structured) {

    public int length() {
        return (int) region.count();
    }

    public void release() {
        if (region.refCnt() > 0) {
            region.release();
        }
    }
}
