package io.tapdisk4j.iscsi.session;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.iscsi.login.LoginConfig;
import io.tapdisk4j.iscsi.login.LoginNegotiator;
import io.tapdisk4j.iscsi.login.SessionParameters;
import io.tapdisk4j.iscsi.pdu.InitiatorPdus;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;
import io.tapdisk4j.iscsi.pdu.PduDecoder;
import io.tapdisk4j.iscsi.scsi.Cdb;
import io.tapdisk4j.iscsi.scsi.LunEncoding;
import io.tapdisk4j.iscsi.scsi.ScsiStatus;
import io.tapdisk4j.iscsi.scsi.Sense;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An iSCSI session in the full feature phase (RFC 7143 3.2.2, 4.2.2, 11) on one connection.
 *
 * <p>All state lives on one event loop. Commands wait in a queue until the CmdSN window
 * ({@code CmdSN <= MaxCmdSN}) admits them; any number are in flight at once, each under its own
 * Initiator Task Tag. Writes send immediate data, then unsolicited Data-Out up to FirstBurstLength, then
 * Data-Out for each R2T; reads gather Data-In at their buffer offsets into one dom0 buffer. While reads
 * stream in, {@link ReceiveCoalescing} lets one wake-up of the loop take two or more PDUs.
 *
 * <p>Failures: UNIT ATTENTION and BUSY are retried; a command that times out is aborted (ABORT TASK,
 * then LOGICAL UNIT RESET if the abort is not answered, then the connection is dropped) and reissued. At
 * ErrorRecoveryLevel 0 a broken connection ends every task on it, so the session logs in again with the
 * same ISID (session reinstatement) and reissues every outstanding command from the dom0 buffers it still
 * holds; writes are idempotent at the block level, so a command the target may already have run is safe
 * to run again.
 */
public final class IscsiSession implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(IscsiSession.class);
    private static final int RESERVED = Pdu.RESERVED_TAG;

    private enum State { FULL_FEATURE, RECOVERING, FAILED, CLOSED }

    /** A task management request in flight; {@code referencedItt}: the aborted task's tag when it was sent. */
    private record Tmf(int function, Task task, int referencedItt, int lun, ScheduledFuture<?> timer) {
    }

    private final SessionConfig config;
    private final EventLoop loop;
    private final byte[] isid = LoginNegotiator.randomIsid();
    private final AtomicInteger reconnects = new AtomicInteger();
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();

    // Event-loop confined.
    private State state = State.RECOVERING;
    private Connection connection;
    /** The current connection's decoder and receive coalescing (null while there is no connection). */
    private PduDecoder decoder;
    private ReceiveCoalescing coalescing;
    /** What the last successful login used: reconnects start from it (no second CHAP fallback each time). */
    private LoginConfig login;
    private volatile SessionParameters parameters;
    private int cmdSN;
    private int maxCmdSN;
    private int expStatSN;
    private int nextItt = 1;
    private final Map<Integer, Task> inFlight = new HashMap<>();
    private final ArrayDeque<Task> waiting = new ArrayDeque<>();
    private final Map<Integer, Tmf> taskManagement = new HashMap<>();
    private long lastReceived;
    /** System.nanoTime() as of the last tick: command send times need no better (and cost a clock read each). */
    private long clock;
    private long tickNanos;
    private boolean receivedSinceTick;
    private int pingItt = RESERVED;
    private long pingSent;
    private ScheduledFuture<?> keepalive;
    private long recoveryDeadline;
    private long reconnectDelayMillis;
    private boolean closing;
    private boolean writePending;
    private boolean readBatch;

    private IscsiSession(SessionConfig config, EventLoop loop) {
        this.config = config;
        this.loop = loop;
        this.login = config.login();
    }

    /** Connects, logs in and returns the session in the full feature phase (or the login's failure). */
    public static CompletableFuture<IscsiSession> open(SessionConfig config) {
        return open(config, EventLoops.shared().next());
    }

    public static CompletableFuture<IscsiSession> open(SessionConfig config, EventLoop loop) {
        IscsiSession s = new IscsiSession(config, loop);
        CompletableFuture<IscsiSession> result = new CompletableFuture<>();
        Connector.connect(loop, config.host(), config.port(), config.login(), s.isid, 1, config.loginTimeout())
                .whenComplete((c, err) -> s.loop.execute(() -> {
                    if (err != null) {
                        s.state = State.CLOSED;
                        s.closeFuture.complete(null);
                        result.completeExceptionally(err);
                    } else {
                        s.install(c);
                        result.complete(s);
                    }
                }));
        return result;
    }

    public SessionConfig config() {
        return config;
    }

    /** The values negotiated at the latest login. */
    public SessionParameters parameters() {
        return parameters;
    }

    /** How many times the session logged in again after losing its connection. */
    public int reconnects() {
        return reconnects.get();
    }

    /** The current connection's channel (tests cut it); null while reconnecting. */
    public Channel channel() {
        Connection c = connection;
        return c == null ? null : c.channel();
    }

    /**
     * Runs {@code command}. The future completes with GOOD status data or fails with a
     * {@link ScsiCommandException} (CHECK CONDITION other than unit attention, and so on) or a
     * {@link BlockDeviceException} (session closed, recovery gave up, timeouts beyond the retries).
     */
    public CompletableFuture<ScsiResult> execute(ScsiCommand command) {
        CompletableFuture<ScsiResult> f = new CompletableFuture<>();
        Task t = new Task(command, f);
        if (command.readLength() > 0 && command.writeData() != null) {
            t.release();
            f.completeExceptionally(new BlockDeviceException(BlockError.ENOTSUP, "bidirectional commands are not supported"));
            return f;
        }
        if (loop.inEventLoop()) {
            submit(t);
            return f;
        }
        try {
            loop.execute(() -> submit(t));
        } catch (RejectedExecutionException e) {
            t.release();
            f.completeExceptionally(new BlockDeviceException(BlockError.ESHUTDOWN, "event loop shut down", e));
        }
        return f;
    }

    /** End of a batch of reads from the socket (channelReadComplete): one flush for everything it caused. */
    void onReadComplete() {
        readBatch = false;
        flush();
        coalesce();
    }

    /** Sets when the socket next wakes the loop: after the next two PDUs when reads stream in, else at once. */
    private void coalesce() {
        if (coalescing == null || decoder == null) {
            return;
        }
        int missing = decoder.bytesMissing();
        if (!coalescing.worthCoalescing(inFlight.size())) {
            coalescing.expect(missing, missing);
            return;
        }
        // Two PDUs' worth: the two smallest next PDUs of the tasks in flight (a PDU in progress counted whole). With at
        // least MIN_IN_FLIGHT tasks in flight, reads that complete as asked always bring that much.
        int smallest = Integer.MAX_VALUE;
        int second = Integer.MAX_VALUE;
        for (Task t : inFlight.values()) {
            int n = nextPduBytes(t);
            if (n < smallest) {
                second = smallest;
                smallest = n;
            } else if (n < second) {
                second = n;
            }
        }
        coalescing.expect(missing, (int) Math.min(Integer.MAX_VALUE, (long) smallest + second));
    }

    /** The fewest bytes the target's next PDU for {@code t} can take if the task goes as asked: its next Data-In, else a status. */
    private int nextPduBytes(Task t) {
        int remaining = t.command.readLength() - (t.readBuffer == null ? 0 : t.readBuffer.writerIndex());
        return connection.digests().wireLength(0, Math.clamp(remaining, 0, parameters.maxRecvDataSegmentLength()));
    }

    private void submit(Task t) {
        if (state == State.CLOSED || closing) {
            fail(t, new BlockDeviceException(BlockError.ESHUTDOWN, "iSCSI session to " + target() + " is closed"));
            return;
        }
        waiting.add(t);
        if (state == State.FAILED) {
            startRecovery();
        }
        pump();
    }

    // ---- sending ----

    private void pump() {
        if (state != State.FULL_FEATURE) {
            return;
        }
        while (!waiting.isEmpty() && (maxCmdSN - cmdSN) >= 0) {
            send(waiting.poll());
        }
        flush();
    }

    private void flush() {
        // While a batch of PDUs is being read, writes are flushed once at the end of the batch.
        if (readBatch) {
            return;
        }
        if (writePending && connection != null) {
            writePending = false;
            connection.channel().flush();
        }
    }

    private void write(Pdu pdu) {
        connection.channel().write(pdu, connection.channel().voidPromise());
        writePending = true;
    }

    private void send(Task t) {
        SessionParameters p = parameters;
        ScsiCommand c = t.command;
        t.itt = allocateItt();
        t.cmdSN = cmdSN++;
        long lun = LunEncoding.encode(c.lun());
        ByteBuf data = c.writeData();
        int direction = 0;
        int expected = 0;
        ByteBuf immediate = null;
        int immediateLength = 0;
        int unsolicitedEnd = 0;
        if (c.readLength() > 0) {
            direction = InitiatorPdus.READ;
            expected = c.readLength();
        } else if (data != null && data.readableBytes() > 0) {
            direction = InitiatorPdus.WRITE;
            expected = data.readableBytes();
            int firstBurst = Math.min(expected, p.firstBurstLength());
            if (p.immediateData()) {
                immediateLength = Math.min(firstBurst, p.maxXmitDataSegmentLength());
                immediate = data.retainedSlice(data.readerIndex(), immediateLength);
            }
            unsolicitedEnd = p.initialR2T() ? immediateLength : firstBurst;
        }
        boolean unsolicitedDataOut = unsolicitedEnd > immediateLength;
        inFlight.put(t.itt, t);
        write(InitiatorPdus.scsiCommand(lun, t.itt, t.cmdSN, expStatSN, c.cdb(), direction, expected,
                !unsolicitedDataOut, immediate));
        if (unsolicitedDataOut) {
            sendDataOut(t, RESERVED, immediateLength, unsolicitedEnd - immediateLength);
        }
        t.sentNanos = clock;
    }

    private void sendDataOut(Task t, int ttt, int offset, int length) {
        ByteBuf data = t.command.writeData();
        long lun = LunEncoding.encode(t.command.lun());
        int mx = parameters.maxXmitDataSegmentLength();
        int end = offset + length;
        int dataSN = 0;
        while (offset < end) {
            int n = Math.min(mx, end - offset);
            boolean last = offset + n == end;
            write(InitiatorPdus.dataOut(lun, t.itt, ttt, expStatSN, dataSN++, offset, last,
                    data.retainedSlice(data.readerIndex() + offset, n)));
            offset += n;
        }
    }

    private int allocateItt() {
        int itt;
        do {
            itt = nextItt++;
        } while (itt == RESERVED || itt == 0 || inFlight.containsKey(itt) || taskManagement.containsKey(itt)
                || itt == pingItt);
        return itt;
    }

    // ---- receiving ----

    void onPdu(Channel ch, Pdu pdu) {
        try {
            if (connection == null || ch != connection.channel()) {
                return; // a PDU from a connection already given up
            }
            receivedSinceTick = true;
            readBatch = true;
            if (coalescing != null) {
                coalescing.onPdu();
            }
            updateSequenceNumbers(pdu);
            switch (pdu.opcode()) {
                case Opcode.DATA_IN -> onDataIn(pdu);
                case Opcode.SCSI_RESPONSE -> onScsiResponse(pdu);
                case Opcode.R2T -> onR2T(pdu);
                case Opcode.NOP_IN -> onNopIn(pdu);
                case Opcode.TASK_MGMT_RESPONSE -> onTaskManagementResponse(pdu);
                case Opcode.REJECT -> onReject(pdu);
                case Opcode.ASYNC_MESSAGE -> onAsyncMessage(pdu);
                case Opcode.LOGOUT_RESPONSE -> ch.close();
                default -> protocolError("unexpected " + Opcode.name(pdu.opcode()) + " in the full feature phase");
            }
        } catch (RuntimeException e) {
            protocolError("cannot handle " + pdu + ": " + e);
        } finally {
            pdu.release();
        }
        pump();
    }

    private void updateSequenceNumbers(Pdu pdu) {
        int op = pdu.opcode();
        boolean carriesStatus = switch (op) {
            case Opcode.SCSI_RESPONSE, Opcode.TASK_MGMT_RESPONSE, Opcode.TEXT_RESPONSE, Opcode.LOGOUT_RESPONSE,
                 Opcode.REJECT, Opcode.ASYNC_MESSAGE -> true;
            case Opcode.DATA_IN -> (pdu.flags() & 0x01) != 0;
            case Opcode.NOP_IN -> pdu.initiatorTaskTag() != RESERVED;
            default -> false;
        };
        if (carriesStatus && (pdu.statSN() + 1 - expStatSN) > 0) {
            expStatSN = pdu.statSN() + 1;
        }
        int exp = pdu.expCmdSN();
        int max = pdu.maxCmdSN();
        // RFC 7143 4.2.2.1: ignore both when MaxCmdSN < ExpCmdSN - 1 (serial arithmetic).
        if ((max - (exp - 1)) >= 0 && (max - maxCmdSN) > 0) {
            maxCmdSN = max;
        }
    }

    private void onDataIn(Pdu pdu) {
        Task t = inFlight.get(pdu.initiatorTaskTag());
        if (t == null) {
            return; // data for a task we aborted
        }
        int length = t.command.readLength();
        int offset = pdu.bufferOffset();
        int n = pdu.dataLength();
        if (length == 0 || offset < 0 || (long) offset + n > length) {
            protocolError("Data-In of " + n + " bytes at offset " + offset + " for a " + length + "-byte read");
            return;
        }
        ByteBuf placed = pdu.placedInto();
        if (placed != null) {
            // The decoder wrote the data into the task's buffer already (dataInDestination).
            if (placed != t.readBuffer) {
                protocolError("Data-In placed into a buffer task 0x" + Integer.toHexString(t.itt) + " no longer holds");
                return;
            }
            t.readBuffer.writerIndex(Math.max(t.readBuffer.writerIndex(), offset + n));
        } else if (n == length && offset == 0 && t.readBuffer == null) {
            // The whole read in one segment: hand over the received bytes themselves, no copy.
            t.readBuffer = pdu.data().retainedSlice();
        } else if (n > 0) {
            if (t.readBuffer == null || t.readBuffer.capacity() < length) {
                ByteBuf whole = Buffers.allocator().directBuffer(length, length);
                if (t.readBuffer != null) {
                    whole.writeBytes(t.readBuffer);
                    t.readBuffer.release();
                }
                t.readBuffer = whole;
            }
            t.readBuffer.setBytes(offset, pdu.data(), pdu.data().readerIndex(), n);
            t.readBuffer.writerIndex(Math.max(t.readBuffer.writerIndex(), offset + n));
        }
        if ((pdu.flags() & 0x01) != 0) {
            int residual = (pdu.flags() & 0x02) != 0 ? pdu.residualOrDesiredLength() : 0;
            finish(t, pdu.status(), Sense.UNKNOWN, residual);
        }
    }

    /**
     * The decoder's {@link io.tapdisk4j.iscsi.pdu.DataInSink}: a read's own dom0 buffer (allocated here at its
     * full length on first use), so that large Data-In segments are read from the socket straight into it.
     */
    private ByteBuf dataInDestination(int itt, int offset, int length) {
        Task t = inFlight.get(itt);
        if (t == null) {
            return null;
        }
        int total = t.command.readLength();
        if (offset < 0 || length <= 0 || (long) offset + length > total) {
            return null; // onDataIn reports it
        }
        if (t.readBuffer == null) {
            t.readBuffer = Buffers.allocator().directBuffer(total, total);
        } else if (t.readBuffer.capacity() < total) {
            return null;
        }
        return t.readBuffer;
    }

    private void onScsiResponse(Pdu pdu) {
        Task t = inFlight.get(pdu.initiatorTaskTag());
        if (t == null) {
            return;
        }
        if (pdu.response() != 0) {
            // "Target failure": the command did not complete at the target; try it again.
            complete(t);
            retryOrFail(t, new BlockDeviceException(BlockError.EIO, Cdb.name(t.command.opcode())
                    + ": iSCSI target failure (response 0x" + Integer.toHexString(pdu.response()) + ")"));
            return;
        }
        Sense sense = pdu.status() == ScsiStatus.CHECK_CONDITION ? Sense.fromResponseSegment(pdu.data()) : Sense.UNKNOWN;
        int residual = (pdu.flags() & 0x02) != 0 ? pdu.residualOrDesiredLength() : 0;
        finish(t, pdu.status(), sense, residual);
    }

    private void finish(Task t, int status, Sense sense, int residual) {
        complete(t);
        switch (status) {
            case ScsiStatus.GOOD, ScsiStatus.CONDITION_MET -> {
                ByteBuf data = t.readBuffer;
                t.readBuffer = null;
                int length = Math.max(0, t.command.readLength() - Math.max(0, residual));
                if (data == null) {
                    data = length == 0 ? Unpooled.EMPTY_BUFFER : Buffers.allocator().directBuffer(length, length);
                }
                // Bytes the target never sent (an underflow) must not carry stale pool memory.
                if (data.writerIndex() < length) {
                    data.setZero(data.writerIndex(), length - data.writerIndex());
                }
                data.writerIndex(length);
                t.release();
                if (!t.future.complete(new ScsiResult(data, Math.max(0, residual)))) {
                    data.release();
                }
            }
            case ScsiStatus.CHECK_CONDITION -> {
                ScsiCommandException e = new ScsiCommandException(t.command.opcode(), status, sense);
                if (sense.unitAttention()) {
                    LOG.debug("{}: {} got {}, retrying", target(), Cdb.name(t.command.opcode()), sense);
                    retryOrFail(t, e);
                } else {
                    fail(t, e);
                }
            }
            case ScsiStatus.BUSY, ScsiStatus.TASK_SET_FULL, ScsiStatus.TASK_ABORTED ->
                    retryOrFail(t, new ScsiCommandException(t.command.opcode(), status, sense));
            default -> fail(t, new ScsiCommandException(t.command.opcode(), status, sense));
        }
        maybeFinishClose();
    }

    /** Takes a task out of the in-flight table. */
    private void complete(Task t) {
        inFlight.remove(t.itt);
    }

    private void retryOrFail(Task t, BlockDeviceException cause) {
        if (++t.attempts > config.maxRetries()) {
            fail(t, cause);
            return;
        }
        t.reset();
        waiting.addFirst(t);
    }

    private void fail(Task t, Throwable cause) {
        t.release();
        t.future.completeExceptionally(cause);
    }

    private void onR2T(Pdu pdu) {
        Task t = inFlight.get(pdu.initiatorTaskTag());
        if (t == null) {
            return;
        }
        int offset = pdu.bufferOffset();
        int length = pdu.residualOrDesiredLength();
        if (t.command.writeData() == null || offset < 0 || length <= 0
                || (long) offset + length > t.command.writeLength()) {
            protocolError("R2T for " + length + " bytes at offset " + offset + " of a " + t.command.writeLength()
                    + "-byte write");
            return;
        }
        sendDataOut(t, pdu.targetTransferTag(), offset, length);
    }

    private void onNopIn(Pdu pdu) {
        if (pdu.targetTransferTag() != RESERVED) {
            // The target pings us: answer with its tag and its ping data (RFC 7143 11.18).
            write(InitiatorPdus.nopOut(pdu.lun(), RESERVED, pdu.targetTransferTag(), cmdSN, expStatSN,
                    pdu.data().retainedDuplicate()));
        }
        if (pdu.initiatorTaskTag() != RESERVED && pdu.initiatorTaskTag() == pingItt) {
            pingItt = RESERVED;
        }
    }

    private void onReject(Pdu pdu) {
        int reason = pdu.response();
        if (pdu.dataLength() < Pdu.BHS_LENGTH) {
            protocolError("Reject (reason 0x" + Integer.toHexString(reason) + ") without the rejected header");
            return;
        }
        int itt = pdu.data().getInt(pdu.data().readerIndex() + 16);
        Task t = inFlight.get(itt);
        if (t != null) {
            complete(t);
            fail(t, new BlockDeviceException(BlockError.EIO, Cdb.name(t.command.opcode())
                    + " rejected by the target (reason 0x" + Integer.toHexString(reason) + ")"));
            maybeFinishClose();
        } else {
            LOG.warn("{}: target rejected a PDU (reason 0x{}, tag 0x{})", target(), Integer.toHexString(reason),
                    Integer.toHexString(itt));
        }
    }

    private void onAsyncMessage(Pdu pdu) {
        int event = pdu.byteAt(36);
        switch (event) {
            case 1, 2, 3 -> {
                // Logout requested or connection(s) about to be dropped: reconnect now, reissuing everything.
                LOG.info("{}: target asks to end the connection (async event {}); logging in again", target(), event);
                connection.channel().close();
            }
            default -> LOG.debug("{}: asynchronous event {}", target(), event);
        }
    }

    private void protocolError(String message) {
        LOG.warn("{}: protocol error, dropping the connection: {}", target(), message);
        if (connection != null) {
            connection.channel().close();
        }
    }

    // ---- task management and keepalive ----

    private void onTimeout(Task t, int itt) {
        if (inFlight.get(itt) != t || state != State.FULL_FEATURE) {
            return;
        }
        LOG.warn("{}: {} (tag 0x{}) not answered in {} ms, aborting it", target(), Cdb.name(t.command.opcode()),
                Integer.toHexString(itt), config.commandTimeout().toMillis());
        t.aborting = true;
        sendTaskManagement(InitiatorPdus.TMF_ABORT_TASK, t, t.command.lun());
        flush();
    }

    private void sendTaskManagement(int function, Task t, int lun) {
        int itt = allocateItt();
        ScheduledFuture<?> timer = loop.schedule(() -> onTaskManagementTimeout(itt),
                config.nopTimeout().toMillis(), TimeUnit.MILLISECONDS);
        taskManagement.put(itt, new Tmf(function, t, t == null ? RESERVED : t.itt, lun, timer));
        write(InitiatorPdus.taskManagement(function, LunEncoding.encode(lun), itt,
                t == null ? RESERVED : t.itt, cmdSN, expStatSN, t == null ? cmdSN : t.cmdSN));
    }

    private void onTaskManagementTimeout(int itt) {
        Tmf tmf = taskManagement.remove(itt);
        if (tmf == null || state != State.FULL_FEATURE) {
            return;
        }
        if (tmf.function == InitiatorPdus.TMF_ABORT_TASK) {
            if (inFlight.get(tmf.referencedItt) != tmf.task) {
                return; // the task ended meanwhile (answered, or reissued after a reset): nothing to escalate
            }
            resetLun(tmf.lun, "ABORT TASK not answered");
        } else {
            protocolError("LOGICAL UNIT RESET not answered");
        }
    }

    /** One LOGICAL UNIT RESET per LUN at a time: many aborts timing out together need only one. */
    private void resetLun(int lun, String why) {
        for (Tmf t : taskManagement.values()) {
            if (t.function == InitiatorPdus.TMF_LOGICAL_UNIT_RESET && t.lun == lun) {
                return;
            }
        }
        LOG.warn("{}: {}, resetting LUN {}", target(), why, lun);
        sendTaskManagement(InitiatorPdus.TMF_LOGICAL_UNIT_RESET, null, lun);
        flush();
    }

    private void onTaskManagementResponse(Pdu pdu) {
        Tmf tmf = taskManagement.remove(pdu.initiatorTaskTag());
        if (tmf == null) {
            return;
        }
        tmf.timer.cancel(false);
        int response = pdu.response();
        boolean done = response == 0 || (response == 1 && tmf.function == InitiatorPdus.TMF_ABORT_TASK);
        if (!done) {
            LOG.warn("{}: task management function {} refused (response {})", target(), tmf.function, response);
            if (tmf.function == InitiatorPdus.TMF_ABORT_TASK) {
                resetLun(tmf.lun, "ABORT TASK refused");
            } else {
                protocolError("LOGICAL UNIT RESET refused");
            }
            return;
        }
        List<Task> ended = new ArrayList<>();
        if (tmf.function == InitiatorPdus.TMF_ABORT_TASK) {
            if (tmf.task != null && inFlight.get(tmf.task.itt) == tmf.task) {
                ended.add(tmf.task);
            }
        } else {
            for (Task t : inFlight.values()) {
                if (t.command.lun() == tmf.lun) {
                    ended.add(t);
                }
            }
            // Aborts still waiting for the reset LUN's tasks are moot now.
            taskManagement.values().removeIf(other -> {
                boolean moot = other.function == InitiatorPdus.TMF_ABORT_TASK && other.lun == tmf.lun;
                if (moot) {
                    other.timer.cancel(false);
                }
                return moot;
            });
        }
        ended.sort(Comparator.comparingInt((Task t) -> t.cmdSN - cmdSN));
        for (int i = ended.size() - 1; i >= 0; i--) {
            Task t = ended.get(i);
            complete(t);
            retryOrFail(t, new BlockDeviceException(BlockError.ETIMEDOUT, Cdb.name(t.command.opcode())
                    + " timed out " + (t.attempts) + " times on " + target()));
        }
        maybeFinishClose();
    }

    /**
     * The session's one periodic timer: command timeouts (checked here rather than with a timer per
     * command, which would cost a schedule and a cancel on every I/O) and the NOP-Out keepalive.
     */
    private void tick() {
        if (state != State.FULL_FEATURE || connection == null) {
            return;
        }
        long now = System.nanoTime();
        clock = now;
        if (receivedSinceTick) {
            receivedSinceTick = false;
            lastReceived = now;
        }
        // Send times come from the tick clock, up to one period early: never time out before the timeout.
        long timeout = config.commandTimeout().toNanos() + tickNanos;
        List<Task> late = null;
        for (Task t : inFlight.values()) {
            if (!t.aborting && now - t.sentNanos > timeout) {
                if (late == null) {
                    late = new ArrayList<>();
                }
                late.add(t);
            }
        }
        if (late != null) {
            for (Task t : late) {
                onTimeout(t, t.itt);
            }
        }
        keepalive(now);
    }

    private void keepalive(long now) {
        if (state != State.FULL_FEATURE || connection == null) {
            return;
        }
        if (pingItt != RESERVED) {
            if (now - pingSent > config.nopTimeout().toNanos()) {
                protocolError("no NOP-In answer in " + config.nopTimeout().toMillis() + " ms");
            }
            return;
        }
        if (now - lastReceived > config.nopInterval().toNanos()) {
            pingItt = allocateItt();
            pingSent = now;
            write(InitiatorPdus.nopOut(0, pingItt, RESERVED, cmdSN, expStatSN, null));
            flush();
        }
    }

    // ---- connection life ----

    private void install(Connection c) {
        if (state == State.CLOSED) {
            c.channel().close();
            return;
        }
        connection = c;
        login = c.login();
        SessionParameters p = c.parameters();
        parameters = p;
        cmdSN = p.cmdSN();
        maxCmdSN = p.maxCmdSN();
        expStatSN = p.expStatSN();
        pingItt = RESERVED;
        lastReceived = System.nanoTime();
        clock = lastReceived;
        receivedSinceTick = false;
        c.channel().pipeline().addLast("session", new FullFeatureHandler(this));
        decoder = c.channel().pipeline().get(Connector.DECODER) instanceof PduDecoder d ? d : null;
        if (decoder != null) {
            decoder.placeDataIn(this::dataInDestination);
        }
        coalescing = new ReceiveCoalescing(c.channel());
        Channel ch = c.channel();
        ch.closeFuture().addListener(f -> loop.execute(() -> onConnectionLost(ch)));
        long period = Math.max(10, Math.min(config.commandTimeout().toMillis(),
                Math.min(config.nopInterval().toMillis(), config.nopTimeout().toMillis())) / 4);
        tickNanos = TimeUnit.MILLISECONDS.toNanos(period);
        keepalive = loop.scheduleAtFixedRate(this::tick, period, period, TimeUnit.MILLISECONDS);
        state = State.FULL_FEATURE;
        LOG.debug("{}: logged in ({})", target(), p);
        pump();
        maybeFinishClose();
    }

    void onConnectionError(Channel ch, Throwable cause) {
        // One line per broken connection: every write queued behind the first failure fails the same way.
        if (connection != null && ch == connection.channel() && ch.isOpen()) {
            LOG.warn("{}: connection error: {}", target(), cause.toString());
        }
        ch.close();
    }

    private void onConnectionLost(Channel ch) {
        if (connection == null || ch != connection.channel()) {
            return;
        }
        connection = null;
        decoder = null;
        if (coalescing != null) {
            coalescing.stop();
            coalescing = null;
        }
        if (keepalive != null) {
            keepalive.cancel(false);
        }
        for (Tmf tmf : taskManagement.values()) {
            tmf.timer.cancel(false);
        }
        taskManagement.clear();
        List<Task> outstanding = new ArrayList<>(inFlight.values());
        inFlight.clear();
        // Reissue in the original order, ahead of anything not yet sent.
        outstanding.sort(Comparator.comparingInt((Task t) -> t.cmdSN - cmdSN));
        for (int i = outstanding.size() - 1; i >= 0; i--) {
            Task t = outstanding.get(i);
            t.reset();
            waiting.addFirst(t);
        }
        if (state == State.CLOSED) {
            failAll(new BlockDeviceException(BlockError.ESHUTDOWN, "iSCSI session to " + target() + " closed"));
            closeFuture.complete(null);
            return;
        }
        if (closing && waiting.isEmpty()) {
            state = State.CLOSED;
            closeFuture.complete(null);
            return;
        }
        LOG.warn("{}: connection lost with {} command(s) outstanding; logging in again", target(), waiting.size());
        startRecovery();
    }

    private void startRecovery() {
        state = State.RECOVERING;
        recoveryDeadline = System.nanoTime() + config.recoveryTimeout().toNanos();
        reconnectDelayMillis = 0;
        reconnect();
    }

    private void reconnect() {
        if (state != State.RECOVERING) {
            return;
        }
        // TSIH 0 with the same ISID: the target reinstates the session, ending whatever the old one held.
        Connector.connect(loop, config.host(), config.port(), login, isid, 1, config.loginTimeout())
                .whenComplete((c, err) -> loop.execute(() -> {
                    if (state != State.RECOVERING) {
                        if (c != null) {
                            c.channel().close();
                        }
                        return;
                    }
                    if (err == null) {
                        reconnects.incrementAndGet();
                        LOG.info("{}: logged in again; reissuing {} command(s)", target(), waiting.size());
                        install(c);
                        return;
                    }
                    Throwable cause = BlockDeviceException.unwrap(err);
                    // Every failure is retried until the deadline, refusals included: a restarting target
                    // listens before its targets and accounts are configured ("target not found").
                    if (System.nanoTime() > recoveryDeadline) {
                        LOG.error("{}: giving up reconnecting: {}", target(), cause.getMessage());
                        state = State.FAILED;
                        failAll(new BlockDeviceException(BlockError.EIO, "iSCSI session to " + target()
                                + " lost and not recovered: " + cause.getMessage(), cause));
                        maybeFinishClose();
                        return;
                    }
                    reconnectDelayMillis = Math.min(1000, Math.max(20, reconnectDelayMillis * 2));
                    LOG.debug("{}: reconnect failed ({}), next try in {} ms", target(), cause.getMessage(),
                            reconnectDelayMillis);
                    loop.schedule(this::reconnect, reconnectDelayMillis, TimeUnit.MILLISECONDS);
                }));
    }

    private void failAll(Throwable cause) {
        for (Iterator<Task> it = waiting.iterator(); it.hasNext(); ) {
            Task t = it.next();
            it.remove();
            fail(t, cause);
        }
        for (Task t : new ArrayList<>(inFlight.values())) {
            complete(t);
            fail(t, cause);
        }
    }

    /** Completes once the session is closed and its connection gone. */
    public CompletableFuture<Void> closeAsync() {
        try {
            loop.execute(() -> {
                if (state == State.CLOSED) {
                    closeFuture.complete(null);
                    return;
                }
                closing = true;
                maybeFinishClose();
                // Commands still running after one command timeout are failed rather than waited for.
                loop.schedule(this::forceClose, config.commandTimeout().toMillis(), TimeUnit.MILLISECONDS);
            });
        } catch (RejectedExecutionException e) {
            closeFuture.complete(null);
        }
        return closeFuture;
    }

    private void maybeFinishClose() {
        if (!closing || state == State.CLOSED || !inFlight.isEmpty() || !waiting.isEmpty()) {
            return;
        }
        if (connection == null) {
            state = State.CLOSED;
            closeFuture.complete(null);
            return;
        }
        state = State.CLOSED;
        Channel ch = connection.channel();
        write(InitiatorPdus.logoutRequest(allocateItt(), cmdSN, expStatSN));
        flush();
        // The Logout Response closes the channel; a target that never answers is not waited for long.
        loop.schedule(() -> {
            ch.close();
        }, 2, TimeUnit.SECONDS);
    }

    private void forceClose() {
        if (closeFuture.isDone()) {
            return;
        }
        state = State.CLOSED;
        failAll(new BlockDeviceException(BlockError.ESHUTDOWN, "iSCSI session to " + target() + " closed"));
        if (connection != null) {
            connection.channel().close();
        } else {
            closeFuture.complete(null);
        }
    }

    @Override
    public void close() {
        try {
            closeAsync().get(config.commandTimeout().toMillis() + 5000, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            LOG.warn("{}: close did not finish cleanly: {}", target(), e.toString());
        }
    }

    private String target() {
        String t = config.login().targetName();
        return (t == null ? "discovery" : t) + "@" + config.portal();
    }
}
