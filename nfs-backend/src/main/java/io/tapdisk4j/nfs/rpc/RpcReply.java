package io.tapdisk4j.nfs.rpc;

import io.netty.buffer.ByteBuf;

/**
 * A decoded RPC reply (RFC 5531 section 9). {@code body} holds the procedure's results when the call was
 * accepted with SUCCESS (else it is empty); the reply owns one reference to it.
 */
public record RpcReply(int xid, Status status, int low, int high, int authStat, ByteBuf body) {

    /** What happened to the call, flattening reply_stat, accept_stat and reject_stat. */
    public enum Status {
        SUCCESS, PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL, GARBAGE_ARGS, SYSTEM_ERR, RPC_MISMATCH, AUTH_ERROR
    }

    public void release() {
        body.release();
    }

    public String describeFailure() {
        return switch (status) {
            case PROG_MISMATCH -> "program version mismatch (server supports " + low + ".." + high + ")";
            case RPC_MISMATCH -> "RPC version mismatch (server supports " + low + ".." + high + ")";
            case AUTH_ERROR -> "authentication refused (auth_stat " + authStat + ")";
            default -> status.toString();
        };
    }
}
