package io.tapdisk4j.ring.xenbus;

import io.tapdisk4j.ring.xenstore.XsException;
import io.tapdisk4j.ring.xenstore.XsNoEntryException;
import io.tapdisk4j.ring.xenstore.XsOps;
import io.tapdisk4j.ring.xenstore.XsPerm;

import java.util.List;

/**
 * What a toolstack (xl, xapi) does in xenstore to give a guest a vbd3 disk or take it away, exactly as
 * ../shared/sim-xen-abi.md lists it. Tests, the demo and the benchmarks use it; on a real dom0 the
 * toolstack does this itself.
 */
public final class Toolstack {

    private Toolstack() {
    }

    /** Creates device {@code id} backed by {@code uri}, both directories in one transaction. */
    public static void createVbd(io.tapdisk4j.ring.xenstore.XsClient xs, VbdId id, String uri, boolean readOnly)
            throws XsException {
        xs.transaction(tx -> {
            writeVbd(tx, id, uri, readOnly);
            return null;
        });
    }

    /** The same writes inside a caller's transaction (or without one). */
    public static void writeVbd(XsOps xs, VbdId id, String uri, boolean readOnly) throws XsException {
        String be = id.backendPath();
        String fe = id.frontendPath();
        // Permissions first: xenstored gives a new node its parent's permissions when it is created, so
        // keys written before the chmod would stay unreadable to the guest (a real blkfront then never sees
        // the backend's state and waits forever; found by the xen-lab).
        xs.mkdir(be);
        xs.setPerms(be, List.of(new XsPerm(XsPerm.Access.NONE, 0), new XsPerm(XsPerm.Access.READ, id.domid())));
        xs.mkdir(fe);
        xs.setPerms(fe, List.of(new XsPerm(XsPerm.Access.NONE, id.domid()), new XsPerm(XsPerm.Access.READ, 0)));
        xs.write(be + "/frontend", fe);
        xs.write(be + "/frontend-id", Integer.toString(id.domid()));
        xs.write(be + "/params", uri);
        xs.write(be + "/mode", readOnly ? "r" : "w");
        xs.write(be + "/online", "1");
        xs.write(be + "/state", XenbusState.INITIALISING.value());
        xs.write(fe + "/backend", be);
        xs.write(fe + "/backend-id", "0");
        xs.write(fe + "/virtual-device", Integer.toString(id.devid()));
        xs.write(fe + "/state", XenbusState.INITIALISING.value());
    }

    /**
     * What {@code tapdisk4j ctl attach} does for an {@code xl} user: the device's nodes (plus {@code extra}
     * backend keys, e.g. {@code data-path}) in one transaction, {@code device-type = disk} as xl writes it,
     * and the permissions a toolstack sets on the parent directories too, so that the guest may list its
     * {@code device/vbd} directory (blkfront enumerates it) and read its backend's.
     */
    public static void attach(io.tapdisk4j.ring.xenstore.XsClient xs, VbdId id, String uri, boolean readOnly,
                              java.util.Map<String, String> extra) throws XsException {
        String beParent = VbdId.BACKEND_ROOT + "/" + id.domid();
        String feParent = "/local/domain/" + id.domid() + "/device/vbd";
        xs.transaction(tx -> {
            if (tx.exists(id.backendPath()) && tx.readOptional(id.backendPath() + "/frontend").isPresent()) {
                throw new IllegalStateException(id + " exists already (detach it first)");
            }
            tx.mkdir(beParent);
            tx.setPerms(beParent, List.of(new XsPerm(XsPerm.Access.NONE, 0), new XsPerm(XsPerm.Access.READ, id.domid())));
            tx.mkdir(feParent);
            tx.setPerms(feParent, List.of(new XsPerm(XsPerm.Access.NONE, id.domid()), new XsPerm(XsPerm.Access.READ, 0)));
            writeVbd(tx, id, uri, readOnly);
            tx.write(id.frontendPath() + "/device-type", "disk");
            for (java.util.Map.Entry<String, String> e : extra.entrySet()) {
                tx.write(id.backendPath() + "/" + e.getKey(), e.getValue());
            }
            return null;
        });
    }

    /**
     * What {@code tapdisk4j ctl detach DOMID VDEV} does: {@code online = 0}, then waits (up to
     * {@code timeout}) for the backend to release the device and say Closed, then removes both directories.
     * Returns whether the backend confirmed in time (the directories are removed either way).
     */
    public static boolean detach(io.tapdisk4j.ring.xenstore.XsClient xs, VbdId id, java.time.Duration timeout)
            throws XsException, InterruptedException {
        if (!xs.exists(id.backendPath())) {
            throw new IllegalStateException("no device " + id + " in xenstore");
        }
        java.util.concurrent.CountDownLatch closed = new java.util.concurrent.CountDownLatch(1);
        // Watch events arrive on the connection's event loop, which must not block on a read: hop off it.
        java.util.concurrent.Executor reader = r -> Thread.ofVirtual().start(r);
        String state = id.backendPath() + "/state";
        boolean confirmed;
        try (io.tapdisk4j.ring.xenstore.XsWatch w = xs.watch(state, "detach:" + id, (path, token) ->
                reader.execute(() -> {
                    try {
                        if (XenbusState.CLOSED.value().equals(xs.readOptional(state).orElse("").trim())) {
                            closed.countDown();
                        }
                    } catch (XsException ignored) {
                        // the next event reads again; the timeout bounds the wait
                    }
                }))) {
            setOffline(xs, id);
            confirmed = closed.await(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        }
        removeVbd(xs, id);
        return confirmed;
    }

    /** {@code online = 0}: the backend releases the device. */
    public static void setOffline(XsOps xs, VbdId id) throws XsException {
        xs.write(id.backendPath() + "/online", "0");
    }

    /** Removes both directories (the backend releases the device). */
    public static void removeVbd(XsOps xs, VbdId id) throws XsException {
        rm(xs, id.backendPath());
        rm(xs, id.frontendPath());
    }

    private static void rm(XsOps xs, String path) throws XsException {
        try {
            xs.rm(path);
        } catch (XsNoEntryException ignored) {
            // already gone
        }
    }
}
