package io.tapdisk4j.ring.frontend;

import io.tapdisk4j.ring.blkif.Abi;

/**
 * How the emulated blkfront sets itself up.
 *
 * @param queues              rings ({@code multi-queue-num-queues})
 * @param ringOrder           {@code ring-page-order}, 0..4
 * @param abi                 the protocol it speaks
 * @param persistent          announces {@code feature-persistent} and grants data pages once, read-write
 * @param maxIndirectSegments the backend's {@code feature-max-indirect-segments}; 0 = never use INDIRECT
 */
public record FrontendOptions(int queues, int ringOrder, Abi abi, boolean persistent, int maxIndirectSegments) {

    public FrontendOptions {
        if (queues < 1 || ringOrder < 0 || ringOrder > 4 || maxIndirectSegments < 0) {
            throw new IllegalArgumentException("bad frontend options");
        }
    }

    public static FrontendOptions defaults() {
        return new FrontendOptions(1, 0, Abi.X86_64, false, 256);
    }

    public FrontendOptions withQueues(int q) {
        return new FrontendOptions(q, ringOrder, abi, persistent, maxIndirectSegments);
    }

    public FrontendOptions withRingOrder(int o) {
        return new FrontendOptions(queues, o, abi, persistent, maxIndirectSegments);
    }

    public FrontendOptions withAbi(Abi a) {
        return new FrontendOptions(queues, ringOrder, a, persistent, maxIndirectSegments);
    }

    public FrontendOptions withPersistent(boolean p) {
        return new FrontendOptions(queues, ringOrder, abi, p, maxIndirectSegments);
    }

    public FrontendOptions withMaxIndirectSegments(int n) {
        return new FrontendOptions(queues, ringOrder, abi, persistent, n);
    }
}
