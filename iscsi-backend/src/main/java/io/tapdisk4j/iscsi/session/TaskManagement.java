package io.tapdisk4j.iscsi.session;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import io.tapdisk4j.iscsi.pdu.InitiatorPdus;
import io.tapdisk4j.iscsi.pdu.Pdu;
import io.tapdisk4j.iscsi.scsi.Cdb;
import io.tapdisk4j.iscsi.scsi.LunEncoding;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Task management for commands that time out (RFC 7143 11.5): ABORT TASK first, one LOGICAL UNIT RESET per LUN
 * when an abort is refused or not answered, and dropping the connection when a reset is. Tasks a function ends
 * are handed back to the session through {@link Host#ended}. Loop-confined.
 */
final class TaskManagement {

    private static final Logger LOG = LoggerFactory.getLogger(TaskManagement.class);

    /** What task management needs of the session. */
    interface Host {
        /** A free Initiator Task Tag. */
        int allocateItt();

        void write(Pdu pdu);

        void flush();

        /** Drops the connection (recovery follows). */
        void protocolError(String message);

        /** Whether the session is in the full feature phase on a connection. */
        boolean fullFeature();

        /** Tasks that a function ended: the target no longer runs them. */
        void ended(List<Task> tasks);
    }

    /** A function in flight; {@code referencedItt}: the aborted task's tag when it was sent. */
    private record Request(int function, Task task, int referencedItt, int lun, ScheduledFuture<?> timer) {
    }

    private final EventLoop loop;
    private final long answerTimeoutMillis;
    private final Host host;
    private final String target;
    private final TaskTable tasks;
    private final CommandWindow window;
    private final Map<Integer, Request> pending = new HashMap<>();

    TaskManagement(EventLoop loop, long answerTimeoutMillis, Host host, TaskTable tasks, CommandWindow window,
                   String target) {
        this.loop = loop;
        this.target = target;
        this.answerTimeoutMillis = answerTimeoutMillis;
        this.host = host;
        this.tasks = tasks;
        this.window = window;
    }

    /** Whether {@code itt} is the tag of a function in flight. */
    boolean uses(int itt) {
        return pending.containsKey(itt);
    }

    /** Aborts {@code t}, which did not finish in time. */
    void abort(Task t, long commandTimeoutMillis) {
        LOG.warn("{}: {} (tag 0x{}) not answered in {} ms, aborting it", target, Cdb.name(t.command.opcode()),
                Integer.toHexString(t.itt), commandTimeoutMillis);
        t.aborting = true;
        send(InitiatorPdus.TMF_ABORT_TASK, t, t.command.lun());
        host.flush();
    }

    /** Forgets every function in flight: their connection is gone. */
    void clear() {
        for (Request r : pending.values()) {
            r.timer.cancel(false);
        }
        pending.clear();
    }

    private void send(int function, Task t, int lun) {
        int itt = host.allocateItt();
        ScheduledFuture<?> timer = loop.schedule(() -> onTimeout(itt), answerTimeoutMillis, TimeUnit.MILLISECONDS);
        int referenced = t == null ? Pdu.RESERVED_TAG : t.itt;
        pending.put(itt, new Request(function, t, referenced, lun, timer));
        host.write(InitiatorPdus.taskManagement(function, LunEncoding.encode(lun), itt, referenced,
                window.cmdSN(), window.expStatSN(), t == null ? window.cmdSN() : t.cmdSN));
    }

    private void onTimeout(int itt) {
        Request r = pending.remove(itt);
        if (r == null || !host.fullFeature()) {
            return;
        }
        if (r.function == InitiatorPdus.TMF_ABORT_TASK) {
            if (tasks.get(r.referencedItt) != r.task) {
                return; // the task ended meanwhile (answered, or reissued after a reset): nothing to escalate
            }
            resetLun(r.lun, "ABORT TASK not answered");
        } else {
            host.protocolError("LOGICAL UNIT RESET not answered");
        }
    }

    /** One LOGICAL UNIT RESET per LUN at a time: many aborts timing out together need only one. */
    private void resetLun(int lun, String why) {
        for (Request r : pending.values()) {
            if (r.function == InitiatorPdus.TMF_LOGICAL_UNIT_RESET && r.lun == lun) {
                return;
            }
        }
        LOG.warn("{}: {}, resetting LUN {}", target, why, lun);
        send(InitiatorPdus.TMF_LOGICAL_UNIT_RESET, null, lun);
        host.flush();
    }

    /** A Task Management Function Response arrived. */
    void onResponse(Pdu pdu) {
        Request r = pending.remove(pdu.initiatorTaskTag());
        if (r == null) {
            return;
        }
        r.timer.cancel(false);
        int response = pdu.response();
        // 1: "task does not exist", for an abort: it finished meanwhile, which is as good.
        boolean done = response == 0 || (response == 1 && r.function == InitiatorPdus.TMF_ABORT_TASK);
        if (!done) {
            LOG.warn("{}: task management function {} refused (response {})", target, r.function, response);
            if (r.function == InitiatorPdus.TMF_ABORT_TASK) {
                resetLun(r.lun, "ABORT TASK refused");
            } else {
                host.protocolError("LOGICAL UNIT RESET refused");
            }
            return;
        }
        List<Task> ended = new ArrayList<>();
        if (r.function == InitiatorPdus.TMF_ABORT_TASK) {
            if (r.task != null && tasks.holds(r.task)) {
                ended.add(r.task);
            }
        } else {
            ended.addAll(tasks.onLun(r.lun));
            // Aborts still waiting for the reset LUN's tasks are moot now.
            pending.values().removeIf(other -> {
                boolean moot = other.function == InitiatorPdus.TMF_ABORT_TASK && other.lun == r.lun;
                if (moot) {
                    other.timer.cancel(false);
                }
                return moot;
            });
        }
        host.ended(ended);
    }
}
