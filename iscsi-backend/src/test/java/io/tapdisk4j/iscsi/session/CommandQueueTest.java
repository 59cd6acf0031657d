package io.tapdisk4j.iscsi.session;

import io.netty.buffer.Unpooled;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.iscsi.scsi.ScsiStatus;
import io.tapdisk4j.iscsi.scsi.Sense;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CommandQueueTest {

    private final CommandQueue queue = new CommandQueue(2, "test");

    private static Task task() {
        return new Task(ScsiCommand.noData(0, new byte[6]), new CompletableFuture<>());
    }

    @Test
    void goodCompletesWithTheData() throws Exception {
        Task t = new Task(ScsiCommand.read(0, new byte[10], 512), new CompletableFuture<>());
        queue.finish(t, ScsiStatus.GOOD, Sense.UNKNOWN, 0);
        ScsiResult r = t.future.get();
        assertEquals(512, r.data().readableBytes());
        r.data().release();
    }

    @Test
    void unitAttentionAndBusyAreRetriedAtTheFrontUntilTheRetriesRunOut() {
        Task first = task();
        queue.add(first);
        Task t = task();
        t.itt = 9;
        queue.finish(t, ScsiStatus.CHECK_CONDITION, new Sense(Sense.UNIT_ATTENTION, 0x29, 0, false), 0);
        assertEquals(-1, t.itt, "reset for a reissue");
        assertSame(t, queue.poll(), "ahead of what waited already");
        queue.finish(t, ScsiStatus.BUSY, Sense.UNKNOWN, 0);
        assertSame(t, queue.poll());
        queue.finish(t, ScsiStatus.BUSY, Sense.UNKNOWN, 0);
        assertSame(first, queue.poll(), "third failure: no more retries");
        ExecutionException e = assertThrows(ExecutionException.class, t.future::get);
        assertInstanceOf(ScsiCommandException.class, e.getCause());
    }

    @Test
    void otherCheckConditionsFailAtOnce() {
        Task t = task();
        queue.finish(t, ScsiStatus.CHECK_CONDITION, new Sense(Sense.ILLEGAL_REQUEST, 0x24, 0, false), 0);
        assertTrue(queue.isEmpty());
        assertTrue(t.future.isCompletedExceptionally());
    }

    @Test
    void reissuedTasksGoFirstInTheGivenOrder() {
        Task waiting = task();
        queue.add(waiting);
        List<Task> lost = new ArrayList<>();
        for (int i = 3; i >= 1; i--) {
            Task t = task();
            t.cmdSN = i;
            lost.add(t);
        }
        queue.reissue(lost, java.util.Comparator.comparingInt(t -> t.cmdSN));
        assertEquals(1, queue.poll().cmdSN);
        assertEquals(2, queue.poll().cmdSN);
        assertEquals(3, queue.poll().cmdSN);
        assertSame(waiting, queue.poll());
    }

    @Test
    void failAllReleasesTheWriteData() {
        var data = Unpooled.buffer(16).writeZero(16);
        Task t = new Task(ScsiCommand.write(0, new byte[10], data), new CompletableFuture<>());
        queue.add(t);
        queue.failAll(new BlockDeviceException(BlockError.ESHUTDOWN, "closed"));
        assertTrue(queue.isEmpty());
        assertEquals(0, data.refCnt());
        assertFalse(t.future.isDone() && !t.future.isCompletedExceptionally());
    }
}
