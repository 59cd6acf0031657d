package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.ForwardingBlockDevice;
import io.tapdisk4j.block.Capability;

import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/** A real device that cannot grow and has no write-zeroes, the way an iSCSI LUN looks to the VHD layer. */
final class LunLikeDevice extends ForwardingBlockDevice {

    LunLikeDevice(BlockDevice inner) {
        super(inner);
    }

    @Override
    public Set<Capability> capabilities() {
        Set<Capability> c = EnumSet.copyOf(delegate.capabilities());
        c.remove(Capability.RESIZE);
        c.remove(Capability.WRITE_ZEROES);
        return c;
    }

    /** A LUN has the size it was given. */
    @Override
    public CompletableFuture<Void> resize(long newSize) {
        return io.tapdisk4j.block.Requests.failed(io.tapdisk4j.block.BlockError.ENOTSUP, describe() + " cannot be resized");
    }

    @Override
    public String describe() {
        return "lun:" + delegate.describe();
    }
}
