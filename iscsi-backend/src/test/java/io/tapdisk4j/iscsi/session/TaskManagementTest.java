package io.tapdisk4j.iscsi.session;

import io.netty.channel.embedded.EmbeddedChannel;
import io.tapdisk4j.iscsi.pdu.InitiatorPdus;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Abort, escalation to LUN reset and to a dropped connection, on a loop whose clock the test moves. */
class TaskManagementTest {

    private static final long ANSWER_MS = 1000;

    private final EmbeddedChannel channel = new EmbeddedChannel();
    private final TaskTable tasks = new TaskTable();
    private final CommandWindow window = new CommandWindow();
    private final List<Pdu> sent = new ArrayList<>();
    private final List<String> errors = new ArrayList<>();
    private final List<Task> ended = new ArrayList<>();
    private final TaskManagement tmf;

    TaskManagementTest() {
        window.start(100, 200, 1);
        TaskManagement[] self = new TaskManagement[1];
        tmf = new TaskManagement(channel.eventLoop(), ANSWER_MS, new TaskManagement.Host() {
            @Override
            public int allocateItt() {
                return tasks.allocate(self[0]::uses);
            }

            @Override
            public void write(Pdu pdu) {
                sent.add(pdu);
            }

            @Override
            public void flush() {
            }

            @Override
            public void protocolError(String message) {
                errors.add(message);
            }

            @Override
            public boolean fullFeature() {
                return true;
            }

            @Override
            public void ended(List<Task> list) {
                ended.addAll(list);
                list.forEach(tasks::remove);
            }
        }, tasks, window, "test");
        self[0] = tmf;
    }

    @AfterEach
    void close() {
        sent.forEach(Pdu::release);
        channel.finishAndReleaseAll();
    }

    private Task inFlight(int lun) {
        Task t = new Task(ScsiCommand.noData(lun, new byte[6]), new CompletableFuture<>());
        t.itt = tasks.allocate(tmf::uses);
        t.cmdSN = window.take();
        tasks.add(t);
        return t;
    }

    private static Pdu response(Pdu request, int response) {
        return Pdu.of(Opcode.TASK_MGMT_RESPONSE, false, null).intAt(16, request.initiatorTaskTag())
                .byteAt(2, response);
    }

    private static int function(Pdu p) {
        return p.flags() & 0x7f;
    }

    private void advance(long millis) {
        channel.advanceTimeBy(millis, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
    }

    @Test
    void anAnsweredAbortEndsTheTask() {
        Task t = inFlight(0);
        tmf.abort(t, 5000);
        assertTrue(t.aborting);
        Pdu abort = sent.getFirst();
        assertEquals(Opcode.TASK_MGMT_REQUEST, abort.opcode());
        assertEquals(InitiatorPdus.TMF_ABORT_TASK, function(abort));
        assertEquals(t.itt, abort.targetTransferTag(), "Referenced Task Tag");
        assertTrue(tmf.uses(abort.initiatorTaskTag()));
        tmf.onResponse(response(abort, 0));
        assertEquals(List.of(t), ended);
        advance(2 * ANSWER_MS);
        assertEquals(1, sent.size(), "no escalation after the answer");
    }

    @Test
    void anUnansweredAbortBecomesOneLunResetForAllTasksOnTheLun() {
        Task a = inFlight(3);
        Task b = inFlight(3);
        Task other = inFlight(4);
        tmf.abort(a, 5000);
        tmf.abort(b, 5000);
        advance(ANSWER_MS + 1);
        List<Pdu> resets = sent.stream().filter(p -> function(p) == InitiatorPdus.TMF_LOGICAL_UNIT_RESET).toList();
        assertEquals(1, resets.size(), "one reset per LUN");
        tmf.onResponse(response(resets.getFirst(), 0));
        assertEquals(2, ended.size());
        assertTrue(ended.containsAll(List.of(a, b)));
        assertTrue(tasks.holds(other));
    }

    @Test
    void aRefusedResetDropsTheConnection() {
        Task t = inFlight(0);
        tmf.abort(t, 5000);
        tmf.onResponse(response(sent.getFirst(), 5)); // refused: escalate
        Pdu reset = sent.get(1);
        assertEquals(InitiatorPdus.TMF_LOGICAL_UNIT_RESET, function(reset));
        tmf.onResponse(response(reset, 5));
        assertEquals(1, errors.size());
        assertTrue(ended.isEmpty());
    }

    @Test
    void anUnansweredResetDropsTheConnection() {
        Task t = inFlight(0);
        tmf.abort(t, 5000);
        advance(ANSWER_MS + 1);
        advance(ANSWER_MS + 1);
        assertEquals(List.of("LOGICAL UNIT RESET not answered"), errors);
    }

    @Test
    void clearForgetsEverythingAndCancelsTimers() {
        Task t = inFlight(0);
        tmf.abort(t, 5000);
        int itt = sent.getFirst().initiatorTaskTag();
        tmf.clear();
        assertTrue(!tmf.uses(itt));
        advance(3 * ANSWER_MS);
        assertEquals(1, sent.size());
        assertTrue(errors.isEmpty());
    }
}
