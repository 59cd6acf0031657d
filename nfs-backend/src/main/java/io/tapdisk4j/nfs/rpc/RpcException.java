package io.tapdisk4j.nfs.rpc;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;

/** An RPC call that failed below the procedure level: rejected, timed out (soft), or the client closed. */
public final class RpcException extends BlockDeviceException {

    public RpcException(BlockError error, String message) {
        super(error, message);
    }
}
