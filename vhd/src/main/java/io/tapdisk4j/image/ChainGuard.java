package io.tapdisk4j.image;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;

import java.util.LinkedHashSet;

/**
 * Refuses loops and absurd depths while a chain of images (VHD parents, qcow2 backing files) is opened:
 * each image being opened on this thread is entered under an identity (a VHD's unique id, a qcow2 file's
 * URI) and left once its parents are open.
 */
public final class ChainGuard {

    /** XenServer keeps chains far shorter; anything deeper is a loop we could not see or a hostile image. */
    public static final int MAX_DEPTH = 64;

    private static final ThreadLocal<LinkedHashSet<Object>> OPENING = ThreadLocal.withInitial(LinkedHashSet::new);

    private ChainGuard() {
    }

    public static void enter(Object identity, String where) throws BlockDeviceException {
        LinkedHashSet<Object> chain = OPENING.get();
        if (chain.contains(identity)) {
            throw new BlockDeviceException(BlockError.EIO, where + ": parent loop: image " + identity
                    + " is its own ancestor");
        }
        if (chain.size() >= MAX_DEPTH) {
            throw new BlockDeviceException(BlockError.EIO, where + ": chain deeper than " + MAX_DEPTH + " images");
        }
        chain.add(identity);
    }

    public static void leave(Object identity) {
        LinkedHashSet<Object> chain = OPENING.get();
        chain.remove(identity);
        if (chain.isEmpty()) {
            OPENING.remove();
        }
    }

    /** True for the errors a chain walk must pass on instead of trying the next candidate. */
    public static boolean isChainError(BlockDeviceException e) {
        String m = e.getMessage();
        return m != null && (m.contains("parent loop") || m.contains("chain deeper"));
    }
}
