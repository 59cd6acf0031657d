package io.tapdisk4j.block;

import java.io.IOException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** A failed block request or device operation, with a {@link BlockError} for the frontend to report. */
public class BlockDeviceException extends IOException {

    private final BlockError error;

    public BlockDeviceException(BlockError error, String message) {
        super(message);
        this.error = error;
    }

    public BlockDeviceException(BlockError error, String message, Throwable cause) {
        super(message, cause);
        this.error = error;
    }

    public BlockError error() {
        return error;
    }

    /** The {@link BlockError} behind any failure a future may carry; EIO for anything unexpected. */
    public static BlockError errorOf(Throwable t) {
        Throwable cause = unwrap(t);
        return cause instanceof BlockDeviceException b ? b.error : BlockError.EIO;
    }

    /** Strips CompletionException/ExecutionException wrappers. */
    public static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
