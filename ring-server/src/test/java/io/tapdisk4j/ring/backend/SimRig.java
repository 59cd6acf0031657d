package io.tapdisk4j.ring.backend;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.ring.frontend.BlkfrontEmulator;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.hv.sim.SimHypervisor;

import java.nio.file.Path;
import java.util.function.UnaryOperator;

/** A simulated guest with an emulated blkfront attached to a backend over {@code device}. */
final class SimRig implements AutoCloseable {

    final SimHypervisor hv;
    final SimGuest guest;
    final BlkfrontEmulator front;
    final BlkifBackend backend;
    final BlockDevice device;

    SimRig(Path dir, int domid, BlockDevice device, FrontendOptions options, DataPath path,
           UnaryOperator<BackendSpec.Builder> tweak) throws Exception {
        this.device = device;
        hv = new SimHypervisor(dir);
        guest = SimGuest.create(dir, domid, 4096, 16384);
        front = BlkfrontEmulator.create(guest, options);
        BackendSpec.Builder b = BackendSpec.builder(hv, domid, device).name("test-dom" + domid)
                .queues(front.queueSpecs()).abi(options.abi()).dataPath(path)
                .frontendPersistent(options.persistent()).allowUnsafe(path == DataPath.UNSAFE_MAP)
                .maxIndirectSegments(options.maxIndirectSegments());
        backend = BlkifBackend.start(tweak.apply(b).build());
    }

    SimRig(Path dir, BlockDevice device, FrontendOptions options, DataPath path) throws Exception {
        this(dir, 1, device, options, path, UnaryOperator.identity());
    }

    @Override
    public void close() {
        backend.close();
        front.close();
        guest.close();
        hv.close();
        device.close();
    }
}
