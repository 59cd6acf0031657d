package io.tapdisk4j.nfs.v3;

import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCounted;

/** READ3resok: the data (a retained slice of the reply; the holder releases it) and the EOF flag. */
public record ReadResult(ByteBuf data, boolean eof) implements ReferenceCounted {

    @Override
    public int refCnt() {
        return data.refCnt();
    }

    @Override
    public ReadResult retain() {
        data.retain();
        return this;
    }

    @Override
    public ReadResult retain(int increment) {
        data.retain(increment);
        return this;
    }

    @Override
    public ReadResult touch() {
        data.touch();
        return this;
    }

    @Override
    public ReadResult touch(Object hint) {
        data.touch(hint);
        return this;
    }

    @Override
    public boolean release() {
        return data.release();
    }

    @Override
    public boolean release(int decrement) {
        return data.release(decrement);
    }
}
