package io.tapdisk4j.testsupport.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.util.AbstractReferenceCounted;
import io.netty.util.ReferenceCounted;

/**
 * One protocol message as the proxy sees it: its bytes exactly as they travel, what kind it is
 * ("NBD_CMD_WRITE", "rpc-call", "iscsi-0x01", "chunk") and a protocol tag (NBD handle, RPC xid,
 * iSCSI initiator task tag; -1 when none) so that scripts can pick "the reply to that request".
 */
public final class Frame extends AbstractReferenceCounted {

    private final ByteBuf bytes;
    private final String kind;
    private final long tag;

    public Frame(ByteBuf bytes, String kind, long tag) {
        this.bytes = bytes;
        this.kind = kind;
        this.tag = tag;
    }

    /** The message bytes; owned by this frame. */
    public ByteBuf bytes() {
        return bytes;
    }

    public String kind() {
        return kind;
    }

    public long tag() {
        return tag;
    }

    public int length() {
        return bytes.readableBytes();
    }

    @Override
    protected void deallocate() {
        bytes.release();
    }

    @Override
    public ReferenceCounted touch(Object hint) {
        bytes.touch(hint);
        return this;
    }

    @Override
    public String toString() {
        return kind + (tag >= 0 ? " tag=" + Long.toHexString(tag) : "") + " (" + bytes.readableBytes() + " bytes)";
    }
}
