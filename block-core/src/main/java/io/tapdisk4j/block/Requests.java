package io.tapdisk4j.block;

import java.util.concurrent.CompletableFuture;

/** Shared validation of request ranges, so every device refuses bad input the same way. */
public final class Requests {

    private Requests() {
    }

    /** Null when {@code [offset, offset+length)} lies within {@code size}, else the error to report. */
    public static BlockDeviceException checkRange(long offset, long length, long size) {
        if (offset < 0 || length < 0) {
            return new BlockDeviceException(BlockError.EINVAL, "negative offset or length: " + offset + "+" + length);
        }
        long end = offset + length;
        if (end < 0) {
            return new BlockDeviceException(BlockError.EOVERFLOW, "range overflows: " + offset + "+" + length);
        }
        if (end > size) {
            return new BlockDeviceException(BlockError.EINVAL,
                    "range " + offset + "+" + length + " beyond end of device (" + size + " bytes)");
        }
        return null;
    }

    public static <T> CompletableFuture<T> failed(BlockError error, String message) {
        return CompletableFuture.failedFuture(new BlockDeviceException(error, message));
    }
}
