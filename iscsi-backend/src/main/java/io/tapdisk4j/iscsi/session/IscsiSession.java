package io.tapdisk4j.iscsi.session;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.iscsi.login.LoginConfig;
import io.tapdisk4j.iscsi.login.LoginNegotiator;
import io.tapdisk4j.iscsi.login.SessionParameters;
import io.tapdisk4j.iscsi.pdu.DigestSettings;
import io.tapdisk4j.iscsi.pdu.InitiatorPdus;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;
import io.tapdisk4j.iscsi.pdu.PduDecoder;
import io.tapdisk4j.iscsi.scsi.Cdb;
import io.tapdisk4j.iscsi.scsi.ScsiStatus;
import io.tapdisk4j.iscsi.scsi.Sense;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An iSCSI session in the full feature phase (RFC 7143 3.2.2, 4.2.2, 11) on one connection. All state lives on
 * one event loop; commands wait until the CmdSN window admits them, any number in flight at once.
 *
 * <p>The jobs are in their own classes: {@link CommandWindow} (CmdSN, MaxCmdSN, ExpStatSN), {@link TaskTable}
 * (tags in flight), {@link CommandQueue} (waiting commands, retries), {@link DataOutSender} (immediate,
 * unsolicited and solicited data), {@link DataInAssembler} (read data), {@link ReceiveCoalescing} (fewer
 * wake-ups while reads stream in), {@link TaskManagement} (abort, LUN reset), {@link KeepAlive} (NOP-Out) and
 * {@link Reconnector} (session reinstatement); this class runs them and owns the connection's life.
 *
 * <p>At ErrorRecoveryLevel 0 a broken connection ends every task on it, so the session logs in again with the
 * same ISID and reissues every outstanding command from the dom0 buffers it still holds; writes are
 * idempotent at the block level, so a command the target may already have run is safe to run again.
 */
public final class IscsiSession implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(IscsiSession.class);
    private static final int RESERVED = Pdu.RESERVED_TAG;

    private enum State { FULL_FEATURE, RECOVERING, FAILED, CLOSED }

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
    private final CommandWindow window = new CommandWindow();
    private final TaskTable tasks = new TaskTable();
    private final CommandQueue waiting;
    private final DataOutSender dataOut = new DataOutSender(this::write);
    private final TaskManagement taskManagement;
    private final KeepAlive keepAlive;
    private final Reconnector reconnector;
    private long tickNanos;
    private ScheduledFuture<?> ticker;
    private boolean closing;
    private boolean writePending;
    private boolean readBatch;

    private IscsiSession(SessionConfig config, EventLoop loop) {
        this.config = config;
        this.loop = loop;
        this.login = config.login();
        this.waiting = new CommandQueue(config.maxRetries(), target());
        this.taskManagement = new TaskManagement(loop, config.nopTimeout().toMillis(), new TaskManagementHost(),
                tasks, window, target());
        this.keepAlive = new KeepAlive(config.nopInterval().toNanos(), config.nopTimeout().toNanos());
        this.reconnector = new Reconnector(loop, config, isid, target());
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
        if (!coalescing.worthCoalescing(tasks.size())) {
            coalescing.expect(missing, missing);
            return;
        }
        int maxRecv = parameters.maxRecvDataSegmentLength();
        DigestSettings digests = connection.digests();
        coalescing.expect(missing, ReceiveCoalescing.twoSmallest(tasks.tasks(),
                t -> digests.wireLength(0, DataInAssembler.nextPduPayload(t, maxRecv))));
    }

    private void submit(Task t) {
        if (state == State.CLOSED || closing) {
            CommandQueue.fail(t, new BlockDeviceException(BlockError.ESHUTDOWN, "iSCSI session to " + target() + " is closed"));
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
        while (!waiting.isEmpty() && window.open()) {
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
        t.itt = allocateItt();
        t.cmdSN = window.take();
        tasks.add(t);
        dataOut.sendCommand(t, parameters, window.expStatSN());
        t.sentNanos = keepAlive.clock();
    }

    private int allocateItt() {
        return tasks.allocate(itt -> taskManagement.uses(itt) || itt == keepAlive.pingItt());
    }

    // ---- receiving ----

    void onPdu(Channel ch, Pdu pdu) {
        try {
            if (connection == null || ch != connection.channel()) {
                return; // a PDU from a connection already given up
            }
            keepAlive.received();
            readBatch = true;
            if (coalescing != null) {
                coalescing.onPdu();
            }
            window.update(pdu);
            switch (pdu.opcode()) {
                case Opcode.DATA_IN -> onDataIn(pdu);
                case Opcode.SCSI_RESPONSE -> onScsiResponse(pdu);
                case Opcode.R2T -> onR2T(pdu);
                case Opcode.NOP_IN -> onNopIn(pdu);
                case Opcode.TASK_MGMT_RESPONSE -> {
                    taskManagement.onResponse(pdu);
                    maybeFinishClose();
                }
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

    private void onDataIn(Pdu pdu) {
        Task t = tasks.get(pdu.initiatorTaskTag());
        if (t == null) {
            return; // data for a task we aborted
        }
        String error = DataInAssembler.accept(t, pdu);
        if (error != null) {
            protocolError(error);
            return;
        }
        if ((pdu.flags() & 0x01) != 0) {
            int residual = (pdu.flags() & 0x02) != 0 ? pdu.residualOrDesiredLength() : 0;
            finish(t, pdu.status(), Sense.UNKNOWN, residual);
        }
    }

    /** The decoder's {@link io.tapdisk4j.iscsi.pdu.DataInSink}: see {@link DataInAssembler#destination}. */
    private ByteBuf dataInDestination(int itt, int offset, int length) {
        Task t = tasks.get(itt);
        return t == null ? null : DataInAssembler.destination(t, offset, length);
    }

    private void onScsiResponse(Pdu pdu) {
        Task t = tasks.get(pdu.initiatorTaskTag());
        if (t == null) {
            return;
        }
        if (pdu.response() != 0) {
            // "Target failure": the command did not complete at the target; try it again.
            tasks.remove(t);
            waiting.retryOrFail(t, new BlockDeviceException(BlockError.EIO, Cdb.name(t.command.opcode())
                    + ": iSCSI target failure (response 0x" + Integer.toHexString(pdu.response()) + ")"));
            return;
        }
        Sense sense = pdu.status() == ScsiStatus.CHECK_CONDITION ? Sense.fromResponseSegment(pdu.data()) : Sense.UNKNOWN;
        int residual = (pdu.flags() & 0x02) != 0 ? pdu.residualOrDesiredLength() : 0;
        finish(t, pdu.status(), sense, residual);
    }

    private void finish(Task t, int status, Sense sense, int residual) {
        tasks.remove(t);
        waiting.finish(t, status, sense, residual);
        maybeFinishClose();
    }

    private void onR2T(Pdu pdu) {
        Task t = tasks.get(pdu.initiatorTaskTag());
        if (t == null) {
            return;
        }
        String error = dataOut.onR2T(t, pdu, parameters, window.expStatSN());
        if (error != null) {
            protocolError(error);
        }
    }

    private void onNopIn(Pdu pdu) {
        if (pdu.targetTransferTag() != RESERVED) {
            // The target pings us: answer with its tag and its ping data (RFC 7143 11.18).
            write(InitiatorPdus.nopOut(pdu.lun(), RESERVED, pdu.targetTransferTag(), window.cmdSN(),
                    window.expStatSN(), pdu.data().retainedDuplicate()));
        }
        keepAlive.answered(pdu.initiatorTaskTag());
    }

    private void onReject(Pdu pdu) {
        int reason = pdu.response();
        if (pdu.dataLength() < Pdu.BHS_LENGTH) {
            protocolError("Reject (reason 0x" + Integer.toHexString(reason) + ") without the rejected header");
            return;
        }
        int itt = pdu.data().getInt(pdu.data().readerIndex() + 16);
        Task t = tasks.get(itt);
        if (t != null) {
            tasks.remove(t);
            CommandQueue.fail(t, new BlockDeviceException(BlockError.EIO, Cdb.name(t.command.opcode())
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

    /** The session as {@link TaskManagement} sees it. */
    private final class TaskManagementHost implements TaskManagement.Host {
        @Override
        public int allocateItt() {
            return IscsiSession.this.allocateItt();
        }

        @Override
        public void write(Pdu pdu) {
            IscsiSession.this.write(pdu);
        }

        @Override
        public void flush() {
            IscsiSession.this.flush();
        }

        @Override
        public void protocolError(String message) {
            IscsiSession.this.protocolError(message);
        }

        @Override
        public boolean fullFeature() {
            return state == State.FULL_FEATURE;
        }

        @Override
        public void ended(List<Task> ended) {
            // Retried in their original order, ahead of anything not yet sent.
            ended.sort(window.oldestFirst());
            for (int i = ended.size() - 1; i >= 0; i--) {
                Task t = ended.get(i);
                tasks.remove(t);
                waiting.retryOrFail(t, new BlockDeviceException(BlockError.ETIMEDOUT, Cdb.name(t.command.opcode())
                        + " timed out " + (t.attempts) + " times on " + target()));
            }
        }
    }

    // ---- timeouts and keepalive ----

    /**
     * The session's one periodic timer: command timeouts (checked here rather than with a timer per
     * command, which would cost a schedule and a cancel on every I/O) and the NOP-Out keepalive.
     */
    private void tick() {
        if (state != State.FULL_FEATURE || connection == null) {
            return;
        }
        long now = System.nanoTime();
        KeepAlive.Action action = keepAlive.tick(now);
        // Send times come from the tick clock, up to one period early: never time out before the timeout.
        long timeout = config.commandTimeout().toNanos() + tickNanos;
        for (Task t : tasks.late(now, timeout)) {
            if (tasks.holds(t) && state == State.FULL_FEATURE) {
                taskManagement.abort(t, config.commandTimeout().toMillis());
            }
        }
        if (state != State.FULL_FEATURE || connection == null) {
            return;
        }
        if (action == KeepAlive.Action.DEAD) {
            protocolError("no NOP-In answer in " + config.nopTimeout().toMillis() + " ms");
        } else if (action == KeepAlive.Action.PING) {
            int itt = allocateItt();
            keepAlive.pinged(itt, now);
            write(InitiatorPdus.nopOut(0, itt, RESERVED, window.cmdSN(), window.expStatSN(), null));
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
        window.start(p.cmdSN(), p.maxCmdSN(), p.expStatSN());
        keepAlive.start(System.nanoTime());
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
        ticker = loop.scheduleAtFixedRate(this::tick, period, period, TimeUnit.MILLISECONDS);
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
        if (ticker != null) {
            ticker.cancel(false);
        }
        taskManagement.clear();
        // Reissued in the original order, ahead of anything not yet sent.
        waiting.reissue(tasks.drain(), window.oldestFirst());
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
        reconnector.start(login, () -> state == State.RECOVERING, c -> {
            reconnects.incrementAndGet();
            LOG.info("{}: logged in again; reissuing {} command(s)", target(), waiting.size());
            install(c);
        }, cause -> {
            state = State.FAILED;
            failAll(new BlockDeviceException(BlockError.EIO, "iSCSI session to " + target()
                    + " lost and not recovered: " + cause.getMessage(), cause));
            maybeFinishClose();
        });
    }

    private void failAll(Throwable cause) {
        waiting.failAll(cause);
        for (Task t : tasks.drain()) {
            CommandQueue.fail(t, cause);
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
        if (!closing || state == State.CLOSED || !tasks.isEmpty() || !waiting.isEmpty()) {
            return;
        }
        if (connection == null) {
            state = State.CLOSED;
            closeFuture.complete(null);
            return;
        }
        state = State.CLOSED;
        Channel ch = connection.channel();
        write(InitiatorPdus.logoutRequest(allocateItt(), window.cmdSN(), window.expStatSN()));
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
