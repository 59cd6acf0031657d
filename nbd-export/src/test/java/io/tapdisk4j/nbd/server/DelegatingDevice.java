package io.tapdisk4j.nbd.server;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.ForwardingBlockDevice;

/** A device that forwards to another; tests override single operations to stall or fail them. */
class DelegatingDevice extends ForwardingBlockDevice {

    DelegatingDevice(BlockDevice d) {
        super(d);
    }

    @Override
    public String describe() {
        return "delegating " + delegate.describe();
    }
}
