package io.tapdisk4j.iscsi.session;

import io.netty.buffer.ByteBuf;

/**
 * A command that completed with GOOD status. {@code data}: the data-in bytes actually transferred (the
 * caller owns and releases it; empty for commands without data-in). {@code residual}: bytes the target
 * transferred less than expected (underflow).
 */
public record ScsiResult(ByteBuf data, int residual) {
}
