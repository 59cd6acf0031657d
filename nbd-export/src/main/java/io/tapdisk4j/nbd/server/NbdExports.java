package io.tapdisk4j.nbd.server;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The exports a server offers, by name. The empty name (what clients ask for when given none) selects
 * the default export: the one named "" if present, else the first added.
 */
public final class NbdExports {

    private final Map<String, NbdExport> byName = new ConcurrentHashMap<>();
    private final List<String> order = new CopyOnWriteArrayList<>();

    public NbdExports add(NbdExport export) {
        if (byName.putIfAbsent(export.name(), export) != null) {
            throw new IllegalArgumentException("export '" + export.name() + "' already exists");
        }
        order.add(export.name());
        return this;
    }

    /** Removes an export; connections already using it keep it until they close. */
    public NbdExport remove(String name) {
        order.remove(name);
        return byName.remove(name);
    }

    /** The export a client named, or null. */
    public NbdExport find(String name) {
        NbdExport e = byName.get(name);
        if (e == null && name.isEmpty() && !order.isEmpty()) {
            e = byName.get(order.getFirst());
        }
        return e;
    }

    public List<NbdExport> all() {
        List<NbdExport> out = new ArrayList<>();
        for (String n : order) {
            NbdExport e = byName.get(n);
            if (e != null) {
                out.add(e);
            }
        }
        return out;
    }
}
