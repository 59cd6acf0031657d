package io.tapdisk4j.ring.backend;

import io.netty.channel.EventLoop;
import io.tapdisk4j.ring.hv.EventChannel;
import io.tapdisk4j.ring.hv.HypervisorException;
import io.tapdisk4j.ring.shared.BackRing;

import java.lang.foreign.MemorySegment;

/**
 * Puts responses on one ring and decides when to publish them (rsp_prod, then a notification if the
 * frontend asked for one). A round that answers many requests at once pushes whenever half of what the
 * frontend had outstanding is answered (at most every quarter ring), so the frontend refills the ring while
 * the backend still copies; the round's last responses are pushed at its end, after the final check.
 * Completions arriving one by one outside a round are pushed once per loop iteration. Ring thread only.
 */
final class ResponsePublisher {

    private final BackRing ring;
    private final EventLoop loop;
    private final RateLimitedLog log;
    private final int queue;
    /**
     * Pushed during a round at most every this many responses: a quarter of the ring keeps the frontend
     * ahead while costing few wake-ups (each one a cross-CPU wake).
     */
    private final int pushBatch;
    /** Set by {@link #bind} on the caller's thread; a round may run on the loop before that. */
    private volatile EventChannel evtchn;
    private boolean needPush;
    private boolean pushScheduled;
    private boolean closed;
    /** Responses put on the ring in this round and not yet pushed. */
    private int unpushed;
    /**
     * This round's push interval: half of what the frontend had outstanding when the round began, up to
     * {@link #pushBatch}. With a few large requests in flight, holding their responses to the end of the
     * round left the frontend idle and then the ring waiting for it (four 1 MiB requests: 45% of memcpy
     * instead of about 60%); with many, half of them answered is plenty to refill.
     */
    private int pushEvery;
    /** req_prod as this round began: requests up to it are the round's batch. */
    private int batchProd;

    ResponsePublisher(BackRing ring, EventLoop loop, RateLimitedLog log, int queue) {
        this.ring = ring;
        this.loop = loop;
        this.log = log;
        this.queue = queue;
        this.pushBatch = Math.max(1, ring.size() / 4);
        this.pushEvery = pushBatch;
    }

    void bind(EventChannel ch) {
        evtchn = ch;
    }

    /** A round takes the requests up to {@code reqProd}. */
    void beginRound(int reqProd) {
        pushEvery = Math.clamp((reqProd - ring.rspProdPvt()) / 2, 1, pushBatch);
        batchProd = reqProd;
    }

    /** Puts a response on the ring, unpublished. */
    void put(MemorySegment response, int size) {
        ring.putResponse(response, size);
        needPush = true;
    }

    /**
     * A response answered during a round: a long round answering synchronously would otherwise hold every
     * response until its end, and the frontend would idle while we copy (blkback pushes per response for the
     * same reason). The batch's last response waits for the round's end, a moment later.
     */
    void answeredInRound() {
        if (++unpushed >= pushEvery && ring.reqCons() != batchProd) {
            push();
        }
    }

    /** Pushes after the completions already queued on the loop (one push for a burst of them). */
    void schedulePush() {
        if (!pushScheduled) {
            pushScheduled = true;
            loop.execute(() -> {
                pushScheduled = false;
                push();
            });
        }
    }

    /** Publishes what was put and notifies the frontend if it asked. */
    void push() {
        EventChannel ch = evtchn;
        if (ch == null) {
            // Not bound yet (a guest's event ran the ring first): bind() runs the ring again and pushes then.
            return;
        }
        if (needPush && !closed) {
            needPush = false;
            unpushed = 0;
            if (ring.pushResponsesAndCheckNotify()) {
                try {
                    ch.notifyRemote();
                } catch (HypervisorException e) {
                    log.warn("queue " + queue + ": cannot notify the frontend: " + e.getMessage());
                }
            }
        }
    }

    /** No more pushes: the ring is being unmapped. */
    void close() {
        closed = true;
    }
}
