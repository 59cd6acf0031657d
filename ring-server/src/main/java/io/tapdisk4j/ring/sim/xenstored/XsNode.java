package io.tapdisk4j.ring.sim.xenstored;

import io.tapdisk4j.ring.xenstore.XsPerm;

import java.util.Collections;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * One node of the store, immutable: a change copies the nodes on its path (and their children maps), so a
 * transaction's snapshot is just the root it started from. {@code gen} is the generation of the node's last
 * change (value, permissions or set of children), reported by DIRECTORY_PART.
 */
record XsNode(byte[] value, List<XsPerm> perms, SortedMap<String, XsNode> children, long gen) {

    static final byte[] EMPTY = new byte[0];
    static final SortedMap<String, XsNode> NO_CHILDREN = Collections.unmodifiableSortedMap(new TreeMap<>());

    XsNode withValue(byte[] v, long g) {
        return new XsNode(v, perms, children, g);
    }

    XsNode withPerms(List<XsPerm> p, long g) {
        return new XsNode(value, List.copyOf(p), children, g);
    }

    /** This node with child {@code name} replaced (or added, bumping gen when the set of names changes). */
    XsNode withChild(String name, XsNode child, long g) {
        TreeMap<String, XsNode> c = new TreeMap<>(children);
        boolean added = c.put(name, child) == null;
        return new XsNode(value, perms, Collections.unmodifiableSortedMap(c), added ? g : gen);
    }

    XsNode withoutChild(String name, long g) {
        TreeMap<String, XsNode> c = new TreeMap<>(children);
        c.remove(name);
        return new XsNode(value, perms, Collections.unmodifiableSortedMap(c), g);
    }
}
