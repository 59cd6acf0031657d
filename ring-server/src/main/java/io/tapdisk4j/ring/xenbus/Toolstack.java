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
        // As xl sets them: the guest may read its backend's keys and owns its frontend directory.
        xs.setPerms(be, List.of(new XsPerm(XsPerm.Access.NONE, 0), new XsPerm(XsPerm.Access.READ, id.domid())));
        xs.setPerms(fe, List.of(new XsPerm(XsPerm.Access.NONE, id.domid()), new XsPerm(XsPerm.Access.READ, 0)));
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
