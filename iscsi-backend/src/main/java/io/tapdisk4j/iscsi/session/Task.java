package io.tapdisk4j.iscsi.session;

import io.netty.buffer.ByteBuf;

import java.util.concurrent.CompletableFuture;

/** A command's life in the session: its current tag and CmdSN, data-in gathered so far, when it was sent. Loop-confined. */
final class Task {

    final ScsiCommand command;
    final CompletableFuture<ScsiResult> future;
    int itt = -1;
    int cmdSN;
    int attempts;
    ByteBuf readBuffer;
    long sentNanos;
    boolean aborting;

    Task(ScsiCommand command, CompletableFuture<ScsiResult> future) {
        this.command = command;
        this.future = future;
    }

    /** Back to "not sent": used before a reissue after a reconnect, an abort or a unit attention. */
    void reset() {
        if (readBuffer != null) {
            readBuffer.release();
            readBuffer = null;
        }
        itt = -1;
        aborting = false;
    }

    /** Drops everything the task holds, including the write data it took over. */
    void release() {
        reset();
        if (command.writeData() != null && command.writeData().refCnt() > 0) {
            command.writeData().release();
        }
    }
}
