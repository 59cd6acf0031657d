package io.tapdisk4j.ring.xenstore;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;

/**
 * The xenstore operations, blocking, either outside a transaction ({@link XsClient}) or inside one
 * ({@link XsTransaction}). Paths are absolute, or relative to the connection's home
 * (/local/domain/0 for a dom0 socket). Errors arrive as {@link XsErrorException}s
 * ({@link XsNoEntryException}, {@link XsConflictException}) or {@link XsConnectionException}.
 */
public interface XsOps {

    /** Sends one request in this context and waits for its answer (ERROR answers are thrown). */
    XsMessage call(XsType type, byte[] payload) throws XsException;

    default byte[] readBytes(String path) throws XsException {
        return call(XsType.READ, XsMessage.strings(path)).payload();
    }

    default String read(String path) throws XsException {
        return new String(readBytes(path), StandardCharsets.UTF_8);
    }

    /** The value, or empty when the node does not exist. */
    default Optional<String> readOptional(String path) throws XsException {
        try {
            return Optional.of(read(path));
        } catch (XsNoEntryException e) {
            return Optional.empty();
        }
    }

    default boolean exists(String path) throws XsException {
        return readOptional(path).isPresent();
    }

    /** Writes a value, creating the node and any missing parents. */
    default void write(String path, String value) throws XsException {
        write(path, value.getBytes(StandardCharsets.UTF_8));
    }

    default void write(String path, byte[] value) throws XsException {
        call(XsType.WRITE, XsMessage.pathAndValue(path, value));
    }

    default void mkdir(String path) throws XsException {
        call(XsType.MKDIR, XsMessage.strings(path));
    }

    /** Removes a node and everything below it. */
    default void rm(String path) throws XsException {
        call(XsType.RM, XsMessage.strings(path));
    }

    /** The names (not paths) of a node's children. */
    default List<String> directory(String path) throws XsException {
        return call(XsType.DIRECTORY, XsMessage.strings(path)).strings();
    }

    default List<XsPerm> getPerms(String path) throws XsException {
        return XsPerm.parseAll(call(XsType.GET_PERMS, XsMessage.strings(path)).strings());
    }

    default void setPerms(String path, List<XsPerm> perms) throws XsException {
        String[] parts = new String[perms.size() + 1];
        parts[0] = path;
        for (int i = 0; i < perms.size(); i++) {
            parts[i + 1] = perms.get(i).toString();
        }
        call(XsType.SET_PERMS, XsMessage.strings(parts));
    }
}
