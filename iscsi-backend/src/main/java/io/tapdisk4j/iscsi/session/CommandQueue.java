package io.tapdisk4j.iscsi.session;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.iscsi.scsi.Cdb;
import io.tapdisk4j.iscsi.scsi.ScsiStatus;
import io.tapdisk4j.iscsi.scsi.Sense;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.List;

/**
 * Commands waiting to be sent (new ones at the back, reissued ones at the front) and what becomes of a command
 * the target answered: GOOD completes it with its data; UNIT ATTENTION, BUSY, TASK SET FULL and TASK ABORTED
 * send it again, up to {@code maxRetries} times; anything else fails it. Loop-confined.
 */
final class CommandQueue {

    private static final Logger LOG = LoggerFactory.getLogger(CommandQueue.class);

    private final ArrayDeque<Task> waiting = new ArrayDeque<>();
    private final int maxRetries;
    private final String target;

    CommandQueue(int maxRetries, String target) {
        this.maxRetries = maxRetries;
        this.target = target;
    }

    void add(Task t) {
        waiting.add(t);
    }

    Task poll() {
        return waiting.poll();
    }

    boolean isEmpty() {
        return waiting.isEmpty();
    }

    int size() {
        return waiting.size();
    }

    /** Puts {@code tasks} back at the front, reset, in the order {@code order} gives (oldest first). */
    void reissue(List<Task> tasks, Comparator<Task> order) {
        tasks.sort(order);
        for (int i = tasks.size() - 1; i >= 0; i--) {
            Task t = tasks.get(i);
            t.reset();
            waiting.addFirst(t);
        }
    }

    /** Ends a task (already out of the task table) by the status the target gave it. */
    void finish(Task t, int status, Sense sense, int residual) {
        switch (status) {
            case ScsiStatus.GOOD, ScsiStatus.CONDITION_MET -> {
                ByteBuf data = DataInAssembler.take(t, residual);
                t.release();
                if (!t.future.complete(new ScsiResult(data, Math.max(0, residual)))) {
                    data.release();
                }
            }
            case ScsiStatus.CHECK_CONDITION -> {
                ScsiCommandException e = new ScsiCommandException(t.command.opcode(), status, sense);
                if (sense.unitAttention()) {
                    LOG.debug("{}: {} got {}, retrying", target, Cdb.name(t.command.opcode()), sense);
                    retryOrFail(t, e);
                } else {
                    fail(t, e);
                }
            }
            case ScsiStatus.BUSY, ScsiStatus.TASK_SET_FULL, ScsiStatus.TASK_ABORTED ->
                    retryOrFail(t, new ScsiCommandException(t.command.opcode(), status, sense));
            default -> fail(t, new ScsiCommandException(t.command.opcode(), status, sense));
        }
    }

    /** Sends {@code t} again first thing, unless it has used up its retries: then it fails with {@code cause}. */
    void retryOrFail(Task t, BlockDeviceException cause) {
        if (++t.attempts > maxRetries) {
            fail(t, cause);
            return;
        }
        t.reset();
        waiting.addFirst(t);
    }

    /** Fails every waiting command. */
    void failAll(Throwable cause) {
        Task t;
        while ((t = waiting.poll()) != null) {
            fail(t, cause);
        }
    }

    static void fail(Task t, Throwable cause) {
        t.release();
        t.future.completeExceptionally(cause);
    }
}
