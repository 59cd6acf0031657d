package io.tapdisk4j.ring.xenbus;

import io.tapdisk4j.ring.backend.BlkifBackend;
import io.tapdisk4j.ring.backend.QueueSpec;
import io.tapdisk4j.ring.blkif.Abi;
import io.tapdisk4j.ring.xenstore.XsException;
import io.tapdisk4j.ring.xenstore.XsOps;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What a frontend published for its rings, read and checked as Linux blkback's connect_ring does:
 * {@code protocol}, {@code feature-persistent}, {@code multi-queue-num-queues}, {@code ring-page-order},
 * and per queue (at the top level for one queue, under {@code queue-<i>/} for several) {@code ring-ref}
 * or {@code ring-ref0..ring-ref<2^order-1>} and {@code event-channel}. Bad values are fatal device errors
 * with blkback's messages.
 */
record FrontendRings(List<QueueSpec> queues, Abi abi, boolean persistent) {

    static FrontendRings read(XsOps xs, String fe) throws XsException, XenbusFatal {
        String protocol = xs.readOptional(fe + "/protocol").orElse("");
        Abi abi;
        try {
            abi = Abi.fromProtocol(protocol.trim());
        } catch (IllegalArgumentException e) {
            throw new XenbusFatal(XenbusFatal.EINVAL, "unknown fe protocol " + protocol);
        }
        boolean persistent = readUnsigned(xs, fe + "/feature-persistent").orElse(0L) == 1;
        long nq = readUnsigned(xs, fe + "/multi-queue-num-queues").orElse(1L);
        if (nq == 0 || nq > BlkifBackend.MAX_QUEUES) {
            throw new XenbusFatal(XenbusFatal.EINVAL, "guest requested " + nq + " queues, exceeding the maximum of "
                    + BlkifBackend.MAX_QUEUES + ".");
        }
        Optional<Long> order = readUnsigned(xs, fe + "/ring-page-order");
        if (order.isPresent() && order.get() > BlkifBackend.MAX_RING_PAGE_ORDER) {
            throw new XenbusFatal(XenbusFatal.EINVAL, fe + "/request " + order.get()
                    + " ring page order exceed max:" + BlkifBackend.MAX_RING_PAGE_ORDER);
        }
        List<QueueSpec> queues = new ArrayList<>();
        for (int q = 0; q < nq; q++) {
            String dir = nq == 1 ? fe : fe + "/queue-" + q;
            int[] refs;
            if (order.isEmpty()) {
                refs = new int[]{ref(xs, dir + "/ring-ref")};
            } else {
                refs = new int[1 << order.get()];
                for (int i = 0; i < refs.length; i++) {
                    refs[i] = ref(xs, dir + "/ring-ref" + i);
                }
            }
            Optional<Long> port = readUnsigned(xs, dir + "/event-channel");
            if (port.isEmpty() || port.get() == 0 || port.get() > Integer.MAX_VALUE) {
                throw new XenbusFatal(XenbusFatal.EINVAL, "reading " + dir + "/event-channel");
            }
            queues.add(new QueueSpec(refs, (int) (long) port.get()));
        }
        return new FrontendRings(queues, abi, persistent);
    }

    int ringOrder() {
        return queues.getFirst().order();
    }

    private static int ref(XsOps xs, String key) throws XsException, XenbusFatal {
        Optional<Long> v = readUnsigned(xs, key);
        if (v.isEmpty() || v.get() > 0xFFFF_FFFFL) {
            throw new XenbusFatal(XenbusFatal.EINVAL, "reading " + key);
        }
        return (int) (long) v.get();
    }

    /**
     * A decimal unsigned value as xenbus_scanf("%u") would take it; a value that is not a number is fatal,
     * a missing key is empty.
     */
    static Optional<Long> readUnsigned(XsOps xs, String key) throws XsException, XenbusFatal {
        Optional<String> s = xs.readOptional(key);
        if (s.isEmpty()) {
            return Optional.empty();
        }
        String t = s.get().trim();
        if (t.isEmpty() || t.length() > 10 || !t.chars().allMatch(Character::isDigit)) {
            throw new XenbusFatal(XenbusFatal.EINVAL, "reading " + key);
        }
        return Optional.of(Long.parseLong(t));
    }
}
