package io.tapdisk4j.ring.sim.xenstored;

import io.tapdisk4j.ring.xenstore.XsError;
import io.tapdisk4j.ring.xenstore.XsMessage;
import io.tapdisk4j.ring.xenstore.XsPerm;
import io.tapdisk4j.ring.xenstore.XsType;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * The simulated xenstored's state and request semantics: the tree, watches, transactions and permissions,
 * answering every request with exactly the payloads (and ERROR strings) xenstored uses. Every connection is
 * a dom0 socket connection, so permissions are kept and reported but never deny anything.
 *
 * <p>Transactions are optimistic: each works on the immutable snapshot it started from and records the
 * paths it touched; TRANSACTION_END fails with EAGAIN when any of them changed since the start, otherwise it
 * replays the transaction's changes on the live tree (firing watches then). All methods are synchronized:
 * connections may live on several event loops.
 */
final class XsStore {

    /** A connection as the store sees it: where its answers and watch events go. */
    interface Client {
        void deliver(XsMessage message);
    }

    static final int MAX_WATCHES_PER_CLIENT = 4096;
    static final int MAX_TRANSACTIONS_PER_CLIENT = 256;
    private static final byte[] OK = XsMessage.strings("OK");

    private sealed interface Op permits Write, Mkdir, Rm, SetPerms {
        String path();
    }

    private record Write(String path, byte[] value) implements Op {
    }

    private record Mkdir(String path) implements Op {
    }

    private record Rm(String path) implements Op {
    }

    private record SetPerms(String path, List<XsPerm> perms) implements Op {
    }

    private record Watch(Client owner, String path, String token, boolean relative) {
    }

    private static final class Tx {
        final int id;
        final Client owner;
        final long startGen;
        XsNode root;
        final Set<String> touched = new HashSet<>();
        final List<Op> ops = new ArrayList<>();

        Tx(int id, Client owner, XsNode root, long startGen) {
            this.id = id;
            this.owner = owner;
            this.root = root;
            this.startGen = startGen;
        }
    }

    private XsNode root = new XsNode(XsNode.EMPTY, List.of(new XsPerm(XsPerm.Access.NONE, 0)),
            XsNode.NO_CHILDREN, 0);
    private long generation;
    /** When each path last changed; kept only while transactions are open (their conflict check). */
    private final Map<String, Long> changedAt = new HashMap<>();
    private final Map<Integer, Tx> transactions = new HashMap<>();
    private int nextTxId = 1;
    private final List<Watch> watches = new ArrayList<>();
    /** Watch events of the request being handled: sent after its answer, as xenstored does. */
    private List<Runnable> after = new ArrayList<>();

    /** Handles one request from {@code client}: the answer, then any watch events, go to its deliver(). */
    synchronized void handle(Client client, XsMessage req) {
        after = new ArrayList<>();
        byte[] answer;
        XsType type = req.knownType();
        try {
            if (type == null) {
                throw new StoreException(XsError.EINVAL);
            }
            answer = execute(client, type, req);
        } catch (StoreException e) {
            client.deliver(XsMessage.of(XsType.ERROR, req.reqId(), req.txId(), XsMessage.strings(e.error.name())));
            return;
        }
        client.deliver(new XsMessage(req.type(), req.reqId(), req.txId(), answer));
        after.forEach(Runnable::run);
    }

    /** Forgets a closed connection's watches and transactions. */
    synchronized void disconnect(Client client) {
        watches.removeIf(w -> w.owner == client);
        transactions.values().removeIf(t -> t.owner == client);
        pruneChanges();
    }

    private byte[] execute(Client c, XsType type, XsMessage req) throws StoreException {
        List<String> args = req.strings();
        return switch (type) {
            case READ -> read(tx(c, req), path(args, 0)).value();
            case DIRECTORY -> directory(tx(c, req), path(args, 0));
            case DIRECTORY_PART -> directoryPart(tx(c, req), path(args, 0), arg(args, 1));
            case GET_PERMS -> {
                XsNode n = read(tx(c, req), path(args, 0));
                yield XsMessage.strings(n.perms().stream().map(XsPerm::toString).toArray(String[]::new));
            }
            case WRITE -> {
                String p = pathOfWrite(req.payload());
                byte[] value = Arrays.copyOfRange(req.payload(), p.getBytes(StandardCharsets.UTF_8).length + 1,
                        req.payload().length);
                mutate(tx(c, req), new Write(XsPath.absolute(p), value));
                yield OK;
            }
            case MKDIR -> {
                mutate(tx(c, req), new Mkdir(path(args, 0)));
                yield OK;
            }
            case RM -> {
                mutate(tx(c, req), new Rm(path(args, 0)));
                yield OK;
            }
            case SET_PERMS -> {
                if (args.size() < 2) {
                    throw new StoreException(XsError.EINVAL);
                }
                List<XsPerm> perms;
                try {
                    perms = XsPerm.parseAll(args.subList(1, args.size()));
                } catch (IllegalArgumentException e) {
                    throw new StoreException(XsError.EINVAL);
                }
                mutate(tx(c, req), new SetPerms(path(args, 0), perms));
                yield OK;
            }
            case WATCH -> watch(c, arg(args, 0), arg(args, 1));
            case UNWATCH -> unwatch(c, arg(args, 0), arg(args, 1));
            case TRANSACTION_START -> startTransaction(c, req);
            case TRANSACTION_END -> endTransaction(c, req, arg(args, 0));
            case GET_DOMAIN_PATH -> XsMessage.strings("/local/domain/" + domid(arg(args, 0)));
            case IS_DOMAIN_INTRODUCED -> {
                domid(arg(args, 0));
                yield XsMessage.strings("T");
            }
            case INTRODUCE -> {
                if (args.size() < 3) {
                    throw new StoreException(XsError.EINVAL);
                }
                domid(args.get(0));
                after.add(() -> fireSpecial("@introduceDomain"));
                yield OK;
            }
            case RELEASE -> {
                domid(arg(args, 0));
                after.add(() -> fireSpecial("@releaseDomain"));
                yield OK;
            }
            case RESUME, SET_TARGET -> {
                domid(arg(args, 0));
                yield OK;
            }
            case RESET_WATCHES -> {
                watches.removeIf(w -> w.owner == c);
                transactions.values().removeIf(t -> t.owner == c);
                pruneChanges();
                yield OK;
            }
            // CONTROL's commands (log, memreport, quota, live update...) belong to the real daemon.
            case CONTROL -> throw new StoreException(XsError.ENOSYS);
            case WATCH_EVENT, ERROR -> throw new StoreException(XsError.EINVAL);
        };
    }

    private static String arg(List<String> args, int i) throws StoreException {
        if (args.size() <= i) {
            throw new StoreException(XsError.EINVAL);
        }
        return args.get(i);
    }

    private static String path(List<String> args, int i) throws StoreException {
        return XsPath.absolute(arg(args, i));
    }

    private static String pathOfWrite(byte[] payload) throws StoreException {
        for (int i = 0; i < payload.length; i++) {
            if (payload[i] == 0) {
                return new String(payload, 0, i, StandardCharsets.UTF_8);
            }
        }
        throw new StoreException(XsError.EINVAL);
    }

    private static int domid(String s) throws StoreException {
        try {
            int d = Integer.parseInt(s);
            if (d < 0 || d > 0x7FF0) {
                throw new StoreException(XsError.EINVAL);
            }
            return d;
        } catch (NumberFormatException e) {
            throw new StoreException(XsError.EINVAL);
        }
    }

    // ---- reading -------------------------------------------------------------------------------------

    /** The transaction a request names (null for tx_id 0). */
    private Tx tx(Client c, XsMessage req) throws StoreException {
        if (req.txId() == 0) {
            return null;
        }
        Tx t = transactions.get(req.txId());
        if (t == null || t.owner != c) {
            throw new StoreException(XsError.ENOENT);
        }
        return t;
    }

    private XsNode read(Tx tx, String path) throws StoreException {
        if (tx != null) {
            tx.touched.add(path);
        }
        XsNode n = lookup(tx != null ? tx.root : root, path);
        if (n == null) {
            throw new StoreException(XsError.ENOENT);
        }
        return n;
    }

    private static XsNode lookup(XsNode from, String path) {
        XsNode n = from;
        for (String part : XsPath.parts(path)) {
            n = n.children().get(part);
            if (n == null) {
                return null;
            }
        }
        return n;
    }

    private byte[] directory(Tx tx, String path) throws StoreException {
        XsNode n = read(tx, path);
        byte[] out = XsMessage.strings(n.children().keySet().toArray(String[]::new));
        if (out.length > XsMessage.PAYLOAD_MAX) {
            throw new StoreException(XsError.E2BIG); // the client falls back to DIRECTORY_PART
        }
        return out;
    }

    /**
     * DIRECTORY_PART path offset: the node's generation, then the children from byte {@code offset} of the
     * full NUL-separated list as far as they fit, then one more empty string when the list is complete.
     */
    private byte[] directoryPart(Tx tx, String path, String offsetArg) throws StoreException {
        XsNode n = read(tx, path);
        byte[] all = XsMessage.strings(n.children().keySet().toArray(String[]::new));
        int offset;
        try {
            offset = Integer.parseInt(offsetArg);
        } catch (NumberFormatException e) {
            throw new StoreException(XsError.EINVAL);
        }
        if (offset < 0 || offset > all.length) {
            throw new StoreException(XsError.EINVAL);
        }
        byte[] gen = XsMessage.strings(Long.toString(n.gen()));
        int room = XsMessage.PAYLOAD_MAX - gen.length - 1;
        int end = offset;
        while (end < all.length) {
            int next = end;
            while (all[next] != 0) {
                next++;
            }
            if (next + 1 - offset > room) {
                break;
            }
            end = next + 1;
        }
        boolean complete = end == all.length;
        byte[] out = new byte[gen.length + (end - offset) + (complete ? 1 : 0)];
        System.arraycopy(gen, 0, out, 0, gen.length);
        System.arraycopy(all, offset, out, gen.length, end - offset);
        return out;
    }

    // ---- changing ------------------------------------------------------------------------------------

    private void mutate(Tx tx, Op op) throws StoreException {
        if (tx != null) {
            List<String> changed = new ArrayList<>();
            tx.root = apply(tx.root, op, changed);
            tx.touched.addAll(changed);
            tx.touched.add(op.path());
            tx.ops.add(op);
            return;
        }
        List<String> changed = new ArrayList<>();
        root = apply(root, op, changed);
        if (!changed.isEmpty()) {
            if (!transactions.isEmpty()) {
                changed.forEach(p -> changedAt.put(p, generation));
            }
            fire(op.path(), op instanceof Rm);
        }
    }

    /** Applies {@code op} to the tree at {@code from}; adds every path whose node or children changed. */
    private XsNode apply(XsNode from, Op op, List<String> changed) throws StoreException {
        long g = ++generation;
        return switch (op) {
            case Write w -> update(from, w.path, n -> n.withValue(w.value, g), true, g, changed);
            case Mkdir m -> lookup(from, m.path) != null ? from
                    : update(from, m.path, UnaryOperator.identity(), true, g, changed);
            case SetPerms s -> update(from, s.path, n -> n.withPerms(s.perms, g), false, g, changed);
            case Rm r -> remove(from, r.path, g, changed);
        };
    }

    /**
     * Path-copies from the root down to {@code path}, creating missing nodes (with an empty value and their
     * parent's permissions, as xenstored gives a dom0 caller) when {@code create}, else ENOENT.
     */
    private static XsNode update(XsNode from, String path, UnaryOperator<XsNode> change, boolean create, long g,
                                 List<String> changed) throws StoreException {
        String[] parts = XsPath.parts(path);
        XsNode[] chain = new XsNode[parts.length + 1];
        chain[0] = from;
        String p = "/";
        for (int i = 0; i < parts.length; i++) {
            XsNode next = chain[i].children().get(parts[i]);
            String childPath = XsPath.child(p, parts[i]);
            if (next == null) {
                if (!create) {
                    throw new StoreException(XsError.ENOENT);
                }
                next = new XsNode(XsNode.EMPTY, chain[i].perms(), XsNode.NO_CHILDREN, g);
                changed.add(p); // its set of children changes
                changed.add(childPath);
            }
            chain[i + 1] = next;
            p = childPath;
        }
        chain[parts.length] = change.apply(chain[parts.length]);
        changed.add(path);
        for (int i = parts.length - 1; i >= 0; i--) {
            chain[i] = chain[i].withChild(parts[i], chain[i + 1], g);
        }
        return chain[0];
    }

    private static XsNode remove(XsNode from, String path, long g, List<String> changed) throws StoreException {
        if (path.equals("/")) {
            throw new StoreException(XsError.EINVAL);
        }
        String parentPath = XsPath.parent(path);
        XsNode parent = lookup(from, parentPath);
        if (parent == null) {
            throw new StoreException(XsError.ENOENT);
        }
        String name = path.substring(path.lastIndexOf('/') + 1);
        XsNode victim = parent.children().get(name);
        if (victim == null) {
            return from; // xenstored acknowledges removing a missing child of an existing node
        }
        collect(victim, path, changed);
        return update(from, parentPath, n -> n.withoutChild(name, g), false, g, changed);
    }

    private static void collect(XsNode n, String path, List<String> out) {
        out.add(path);
        n.children().forEach((name, child) -> collect(child, XsPath.child(path, name), out));
    }

    // ---- transactions --------------------------------------------------------------------------------

    private byte[] startTransaction(Client c, XsMessage req) throws StoreException {
        if (req.txId() != 0) {
            throw new StoreException(XsError.EBUSY);
        }
        long mine = transactions.values().stream().filter(t -> t.owner == c).count();
        if (mine >= MAX_TRANSACTIONS_PER_CLIENT) {
            throw new StoreException(XsError.ENOSPC);
        }
        int id;
        do {
            id = nextTxId++;
        } while (id == 0 || transactions.containsKey(id));
        transactions.put(id, new Tx(id, c, root, generation));
        return XsMessage.strings(Integer.toUnsignedString(id));
    }

    private byte[] endTransaction(Client c, XsMessage req, String commitArg) throws StoreException {
        Tx t = tx(c, req);
        if (t == null || !(commitArg.equals("T") || commitArg.equals("F"))) {
            throw new StoreException(XsError.EINVAL);
        }
        transactions.remove(t.id);
        try {
            if (commitArg.equals("F")) {
                return OK;
            }
            for (String p : t.touched) {
                Long when = changedAt.get(p);
                if (when != null && when > t.startGen) {
                    throw new StoreException(XsError.EAGAIN);
                }
            }
            for (Op op : t.ops) {
                try {
                    mutate(null, op);
                } catch (StoreException ignored) {
                    // Cannot fail on an unchanged base; the checks above guarantee that base.
                }
            }
            return OK;
        } finally {
            pruneChanges();
        }
    }

    private void pruneChanges() {
        if (transactions.isEmpty()) {
            changedAt.clear();
        }
    }

    // ---- watches -------------------------------------------------------------------------------------

    private byte[] watch(Client c, String path, String token) throws StoreException {
        boolean special = XsPath.special(path);
        String abs = special ? path : XsPath.absolute(path);
        int mine = 0;
        for (Watch w : watches) {
            if (w.owner == c) {
                mine++;
                if (w.path.equals(abs) && w.token.equals(token)) {
                    throw new StoreException(XsError.EEXIST);
                }
            }
        }
        if (mine >= MAX_WATCHES_PER_CLIENT) {
            throw new StoreException(XsError.E2BIG);
        }
        Watch w = new Watch(c, abs, token, !special && !path.startsWith("/"));
        watches.add(w);
        after.add(() -> deliver(w, abs)); // xenstored fires every new watch once
        return OK;
    }

    private byte[] unwatch(Client c, String path, String token) throws StoreException {
        String abs = XsPath.special(path) ? path : XsPath.absolute(path);
        for (Iterator<Watch> it = watches.iterator(); it.hasNext(); ) {
            Watch w = it.next();
            if (w.owner == c && w.path.equals(abs) && w.token.equals(token)) {
                it.remove();
                return OK;
            }
        }
        throw new StoreException(XsError.ENOENT);
    }

    /**
     * Fires watches for a change of {@code path}: every watch at or above it; for a removal also every
     * watch below it (reporting the watch's own path), as xenstored does.
     */
    private void fire(String path, boolean recursive) {
        for (Watch w : List.copyOf(watches)) {
            if (XsPath.special(w.path)) {
                continue;
            }
            if (XsPath.atOrBelow(path, w.path)) {
                after.add(() -> deliver(w, path));
            } else if (recursive && XsPath.atOrBelow(w.path, path)) {
                after.add(() -> deliver(w, w.path));
            }
        }
    }

    private synchronized void fireSpecial(String name) {
        for (Watch w : List.copyOf(watches)) {
            if (w.path.equals(name)) {
                deliver(w, name);
            }
        }
    }

    private static void deliver(Watch w, String path) {
        String reported = w.relative ? XsPath.relativize(path) : path;
        w.owner.deliver(XsMessage.of(XsType.WATCH_EVENT, 0, 0, XsMessage.strings(reported, w.token)));
    }

    /** Number of nodes (for tests and the demo's status line). */
    synchronized int size() {
        return count(root);
    }

    private static int count(XsNode n) {
        int c = 1;
        for (XsNode child : n.children().values()) {
            c += count(child);
        }
        return c;
    }
}
