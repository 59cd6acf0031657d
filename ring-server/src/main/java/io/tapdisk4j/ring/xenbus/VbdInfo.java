package io.tapdisk4j.ring.xenbus;

import io.tapdisk4j.ring.backend.BackendStats;

/**
 * A device as {@code ctl list} and {@code ctl stats} show it.
 *
 * @param id        domain and device number
 * @param uri       the {@code params} URI (null before it was read)
 * @param state     the backend's xenbus state
 * @param phase     what tapdisk4j is doing with it: waiting, connected, paused, closed, failed, detached, released
 * @param dataPath  the data path in use while connected (null otherwise)
 * @param queues    rings while connected (0 otherwise)
 * @param ringOrder ring-page-order while connected
 * @param error     the last fatal error ("errno message"), or null
 * @param stats     counters of the current connection (null when not connected); earlier connections' totals
 *                  are in {@code previous}
 * @param previous  counters summed over closed connections of this device
 */
public record VbdInfo(VbdId id, String uri, XenbusState state, String phase, String dataPath, int queues,
                      int ringOrder, String error, BackendStats stats, BackendStats previous) {

    /** Counters over the device's whole life in this process. */
    public BackendStats total() {
        if (stats == null) {
            return previous;
        }
        return VbdDevice.sum(previous, stats);
    }
}
