package io.tapdisk4j.nbd.server;

import io.tapdisk4j.testsupport.Await;
import io.netty.channel.FileRegion;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.FileRegionReads;
import io.tapdisk4j.block.ForwardingBlockDevice;

import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.fail;

/** Passes a device's file regions on and keeps every one it handed out, to see they were used and released. */
class RegionCountingDevice extends ForwardingBlockDevice implements FileRegionReads {

    private final ConcurrentLinkedQueue<FileRegion> handedOut = new ConcurrentLinkedQueue<>();

    RegionCountingDevice(BlockDevice device) {
        super(device);
    }

    @Override
    public FileRegion readRegion(long offset, int length) {
        FileRegion r = ((FileRegionReads) delegate).readRegion(offset, length);
        if (r != null) {
            handedOut.add(r);
        }
        return r;
    }

    int regions() {
        return handedOut.size();
    }

    List<FileRegion> unreleased() {
        return handedOut.stream().filter(r -> r.refCnt() > 0).toList();
    }

    /** Waits for a condition the server's event loop makes true, with a deadline. */
    static void await(BooleanSupplier condition, String what) {
        Await.until(condition, what);
    }

    @Override
    public String describe() {
        return "region-counting " + delegate.describe();
    }
}
