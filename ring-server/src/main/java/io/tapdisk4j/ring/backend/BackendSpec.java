package io.tapdisk4j.ring.backend;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.ring.blkif.Abi;
import io.tapdisk4j.ring.hv.Hypervisor;
import io.netty.channel.EventLoopGroup;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Everything needed to serve one virtual block device: what the toolstack configured and what the frontend
 * negotiated through xenstore. Build with {@link #builder(Hypervisor, int, BlockDevice)}.
 *
 * @param hypervisor          grant and event-channel operations ({@code sim} or {@code xen})
 * @param frontendDomid       the guest's domain id
 * @param name                a name for logs, e.g. {@code vbd3/1/51712}
 * @param device              the storage; the backend does not close it
 * @param queues              one ring per queue ({@code multi-queue-num-queues}), served in parallel
 * @param abi                 from the frontend's {@code protocol} key
 * @param dataPath            how payloads move ({@link DataPath#COPY} by default)
 * @param frontendPersistent  the frontend wrote {@code feature-persistent = 1} (needed for PERSISTENT)
 * @param allowUnsafe         explicit consent to {@link DataPath#UNSAFE_MAP}; refused without it
 * @param readOnly            mode {@code r}: writes, barriers and discards fail (also when the device is read-only)
 * @param maxIndirectSegments what the backend advertised as {@code feature-max-indirect-segments} (0 disables INDIRECT)
 * @param closeTimeout        how long {@link BlkifBackend#close()} waits for in-flight requests before failing them
 * @param listener            the fatal-shutdown callback (metrics read {@link BlkifBackend#stats()} instead)
 * @param executor            event loops serving the rings (null: {@link io.tapdisk4j.block.EventLoops#shared()})
 */
public record BackendSpec(Hypervisor hypervisor, int frontendDomid, String name, BlockDevice device,
                          List<QueueSpec> queues, Abi abi, DataPath dataPath, boolean frontendPersistent,
                          boolean allowUnsafe, boolean readOnly, int maxIndirectSegments, Duration closeTimeout,
                          BackendListener listener, EventLoopGroup executor) {

    public BackendSpec {
        Objects.requireNonNull(hypervisor, "hypervisor");
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(abi, "abi");
        Objects.requireNonNull(dataPath, "dataPath");
        queues = List.copyOf(queues);
        if (queues.isEmpty() || queues.size() > BlkifBackend.MAX_QUEUES) {
            throw new IllegalArgumentException("1.." + BlkifBackend.MAX_QUEUES + " queues, got " + queues.size());
        }
        if (frontendDomid <= 0 || frontendDomid > 0x7fef) {
            throw new IllegalArgumentException("bad frontend domain id " + frontendDomid);
        }
        if (maxIndirectSegments < 0 || maxIndirectSegments > BlkifBackend.MAX_INDIRECT_SEGMENTS_LIMIT) {
            throw new IllegalArgumentException("max indirect segments 0.." + BlkifBackend.MAX_INDIRECT_SEGMENTS_LIMIT
                    + ", got " + maxIndirectSegments);
        }
        if (dataPath == DataPath.UNSAFE_MAP && !allowUnsafe) {
            throw new IllegalArgumentException("the unsafe-map data path hands guest memory to storage;"
                    + " it needs the explicit allowUnsafe flag");
        }
        name = name == null ? "dom" + frontendDomid : name;
        closeTimeout = closeTimeout == null ? Duration.ofSeconds(10) : closeTimeout;
        listener = listener == null ? BackendListener.NONE : listener;
    }

    public static Builder builder(Hypervisor hypervisor, int frontendDomid, BlockDevice device) {
        return new Builder(hypervisor, frontendDomid, device);
    }

    /** The path actually used: PERSISTENT needs the frontend's agreement, else it is plain COPY. */
    public DataPath effectiveDataPath() {
        return dataPath == DataPath.PERSISTENT && !frontendPersistent ? DataPath.COPY : dataPath;
    }

    public static final class Builder {
        private final Hypervisor hypervisor;
        private final int frontendDomid;
        private final BlockDevice device;
        private String name;
        private List<QueueSpec> queues = List.of();
        private Abi abi = Abi.X86_64;
        private DataPath dataPath = DataPath.COPY;
        private boolean frontendPersistent;
        private boolean allowUnsafe;
        private boolean readOnly;
        private int maxIndirectSegments = BlkifBackend.DEFAULT_MAX_INDIRECT_SEGMENTS;
        private Duration closeTimeout;
        private BackendListener listener;
        private EventLoopGroup executor;

        private Builder(Hypervisor hypervisor, int frontendDomid, BlockDevice device) {
            this.hypervisor = hypervisor;
            this.frontendDomid = frontendDomid;
            this.device = device;
        }

        public Builder name(String v) { name = v; return this; }
        public Builder queues(List<QueueSpec> v) { queues = v; return this; }
        public Builder queue(int[] ringRefs, int port) { queues = List.of(new QueueSpec(ringRefs, port)); return this; }
        public Builder abi(Abi v) { abi = v; return this; }
        public Builder dataPath(DataPath v) { dataPath = v; return this; }
        public Builder frontendPersistent(boolean v) { frontendPersistent = v; return this; }
        public Builder allowUnsafe(boolean v) { allowUnsafe = v; return this; }
        public Builder readOnly(boolean v) { readOnly = v; return this; }
        public Builder maxIndirectSegments(int v) { maxIndirectSegments = v; return this; }
        public Builder closeTimeout(Duration v) { closeTimeout = v; return this; }
        public Builder listener(BackendListener v) { listener = v; return this; }
        public Builder executor(EventLoopGroup v) { executor = v; return this; }

        public BackendSpec build() {
            return new BackendSpec(hypervisor, frontendDomid, name, device, queues, abi, dataPath, frontendPersistent,
                    allowUnsafe, readOnly, maxIndirectSegments, closeTimeout, listener, executor);
        }
    }
}
