package io.tapdisk4j.ring.backend;

import java.util.Arrays;

/**
 * One ring of a device, as the frontend published it: the grant references of its {@code 2^order} pages
 * ({@code ring-ref} or {@code ring-ref0..N}) and its unbound event-channel port ({@code event-channel}).
 */
public record QueueSpec(int[] ringRefs, int eventChannelPort) {

    public QueueSpec {
        int n = ringRefs.length;
        if (n == 0 || Integer.bitCount(n) != 1 || n > 1 << BlkifBackend.MAX_RING_PAGE_ORDER) {
            throw new IllegalArgumentException("a ring has 2^order pages, order 0.." + BlkifBackend.MAX_RING_PAGE_ORDER
                    + "; got " + n + " ring refs");
        }
        ringRefs = ringRefs.clone();
    }

    public int order() {
        return Integer.numberOfTrailingZeros(ringRefs.length);
    }

    @Override
    public int[] ringRefs() {
        return ringRefs.clone();
    }

    @Override
    public String toString() {
        return "QueueSpec[ringRefs=" + Arrays.toString(ringRefs) + ", eventChannelPort=" + eventChannelPort + "]";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QueueSpec q && q.eventChannelPort == eventChannelPort && Arrays.equals(q.ringRefs, ringRefs);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(ringRefs) + eventChannelPort;
    }
}
