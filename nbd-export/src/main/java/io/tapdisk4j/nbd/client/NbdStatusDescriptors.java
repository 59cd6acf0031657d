package io.tapdisk4j.nbd.client;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockStatus;

import java.util.ArrayList;
import java.util.List;

/**
 * The descriptors of one NBD_REPLY_TYPE_BLOCK_STATUS chunk (after its context id): (u32 length, u32 flags)
 * runs from the request's offset, at least one, none empty; only the last may reach past the request's end
 * (the spec allows it), so a run starting at or after the end is a hostile or broken server.
 */
final class NbdStatusDescriptors {

    private NbdStatusDescriptors() {
    }

    /** The runs {@code descriptors} describe for a request of {@code [offset, offset+length)}; null if malformed. */
    static List<BlockStatus> parse(ByteBuf descriptors, long offset, long length) {
        int n = descriptors.readableBytes();
        if (n == 0 || n % 8 != 0) {
            return null;
        }
        List<BlockStatus> out = new ArrayList<>(n / 8);
        long at = offset;
        long end = offset + length;
        while (descriptors.isReadable()) {
            long len = descriptors.readUnsignedInt();
            int flags = descriptors.readInt();
            if (len == 0 || at >= end) {
                return null;
            }
            out.add(new BlockStatus(at, len, flags));
            at += len;
        }
        return out;
    }
}
