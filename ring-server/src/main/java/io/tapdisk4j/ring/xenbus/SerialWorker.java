package io.tapdisk4j.ring.xenbus;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs {@code body} on a virtual thread whenever kicked, never twice at once, and once more if kicked
 * while running: watch events (which arrive on an event loop and must not block) become calls of a
 * level-triggered reconcile that may block on xenstore and storage.
 */
final class SerialWorker {

    private static final Logger log = LoggerFactory.getLogger(SerialWorker.class);

    private final String name;
    private final Runnable body;
    private final AtomicInteger kicks = new AtomicInteger();

    SerialWorker(String name, Runnable body) {
        this.name = name;
        this.body = body;
    }

    void kick() {
        if (kicks.getAndIncrement() == 0) {
            Thread.ofVirtual().name(name).start(this::run);
        }
    }

    private void run() {
        while (true) {
            int seen = kicks.get();
            try {
                body.run();
            } catch (Throwable t) {
                // Never lose the worker: the next kick runs the body again.
                log.error("{}: unexpected failure", name, t);
            }
            if (kicks.addAndGet(-seen) == 0) {
                return;
            }
        }
    }
}
