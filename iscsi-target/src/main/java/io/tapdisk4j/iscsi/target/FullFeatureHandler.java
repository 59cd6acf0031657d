package io.tapdisk4j.iscsi.target;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;
import io.tapdisk4j.iscsi.scsi.ScsiStatus;
import io.tapdisk4j.iscsi.target.scsi.LogicalUnit;
import io.tapdisk4j.iscsi.target.scsi.Nexus;
import io.tapdisk4j.iscsi.target.scsi.ScsiRequest;
import io.tapdisk4j.iscsi.target.scsi.ScsiResult;
import io.tapdisk4j.iscsi.target.scsi.Sense;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The full feature phase of one connection (RFC 7143 4, 11): commands in CmdSN order through the
 * {@link CommandWindow}; write data gathered from immediate data, unsolicited Data-Out and R2T-solicited
 * Data-Out into one pooled buffer per command (or, when a command brings all its data, the received
 * segment itself); SCSI execution by the logical unit's dispatcher; responses through
 * {@link ResponseSender}; NOP, text (SendTargets), task management and logout. Runs on the connection's
 * event loop only; device completions are brought back to it.
 */
final class FullFeatureHandler extends SimpleChannelInboundHandler<Pdu> {

    private static final Logger log = LoggerFactory.getLogger(FullFeatureHandler.class);
    private static final int RESERVED = Pdu.RESERVED_TAG;
    static final int REJECT_PROTOCOL_ERROR = 0x04;
    static final int REJECT_NOT_SUPPORTED = 0x05;
    static final int REJECT_INVALID_FIELD = 0x09;

    private final TargetContext target;
    private final TargetSession session;
    private final NegotiatedParameters params;
    private final CommandWindow window;
    private final ResponseSender responses;
    private final TaskManagement taskManagement;
    private final Map<Integer, Task> tasks = new HashMap<>();
    private int statSN;
    private int nextTransferTag = 1;
    private long budgetHeld;
    private ChannelHandlerContext ctx;

    FullFeatureHandler(TargetContext target, TargetSession session, NegotiatedParameters params, CommandWindow window,
                       int statSN) {
        super(Pdu.class, true);
        this.target = target;
        this.session = session;
        this.params = params;
        this.window = window;
        this.statSN = statSN;
        this.responses = new ResponseSender(this, params.initiatorMaxRecvDataSegment);
        this.taskManagement = new TaskManagement(this);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    TargetContext target() {
        return target;
    }

    TargetSession session() {
        return session;
    }

    Map<Integer, Task> tasks() {
        return tasks;
    }

    CommandWindow window() {
        return window;
    }

    ChannelHandlerContext context() {
        return ctx;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, Pdu pdu) {
        int op = pdu.opcode();
        if (session == null && op != Opcode.TEXT_REQUEST && op != Opcode.LOGOUT_REQUEST && op != Opcode.NOP_OUT) {
            protocolError(ctx, pdu, Opcode.name(op) + " in a discovery session");
            return;
        }
        switch (op) {
            case Opcode.DATA_OUT -> dataOut(ctx, pdu);
            case Opcode.SCSI_COMMAND, Opcode.NOP_OUT, Opcode.TASK_MGMT_REQUEST, Opcode.TEXT_REQUEST,
                 Opcode.LOGOUT_REQUEST -> ordered(ctx, pdu);
            case Opcode.SNACK_REQUEST -> reject(ctx, pdu, REJECT_NOT_SUPPORTED);
            default -> protocolError(ctx, pdu, Opcode.name(op) + " in the full feature phase");
        }
    }

    /** Immediate PDUs run at once; the others in CmdSN order, or not at all when outside the window. */
    private void ordered(ChannelHandlerContext ctx, Pdu pdu) {
        if (pdu.immediate()) {
            process(ctx, pdu);
            return;
        }
        switch (window.offer(pdu, pdu.intAt(24))) {
            case NOW -> {
                process(ctx, pdu);
                Pdu next;
                while ((next = window.next()) != null) {
                    try {
                        process(ctx, next);
                    } finally {
                        next.release();
                    }
                }
            }
            case HELD -> {
            }
            case DROPPED -> log.debug("{}: dropping {} with CmdSN {} outside [{}, {}]", ctx.channel().remoteAddress(),
                    Opcode.name(pdu.opcode()), pdu.intAt(24), window.expCmdSN(), window.maxCmdSN());
        }
    }

    private void process(ChannelHandlerContext ctx, Pdu pdu) {
        switch (pdu.opcode()) {
            case Opcode.SCSI_COMMAND -> command(ctx, pdu);
            case Opcode.NOP_OUT -> nopOut(ctx, pdu);
            case Opcode.TASK_MGMT_REQUEST -> taskManagement.handle(ctx, pdu);
            case Opcode.TEXT_REQUEST -> SendTargets.answer(this, ctx, pdu);
            case Opcode.LOGOUT_REQUEST -> logout(ctx, pdu);
            default -> protocolError(ctx, pdu, "unexpected " + Opcode.name(pdu.opcode()));
        }
    }

    // SCSI commands and their data

    private void command(ChannelHandlerContext ctx, Pdu pdu) {
        int flags = pdu.flags();
        boolean finalBit = (flags & 0x80) != 0;
        boolean read = (flags & 0x40) != 0;
        boolean write = (flags & 0x20) != 0;
        int itt = pdu.initiatorTaskTag();
        long expected = pdu.intAt(20) & 0xffffffffL;
        byte[] cdb = new byte[16];
        System.arraycopy(pdu.bhs(), 32, cdb, 0, 16);
        if (tasks.containsKey(itt)) {
            reject(ctx, pdu, REJECT_INVALID_FIELD);
            return;
        }
        int immediate = pdu.dataLength();
        if (immediate > 0 && (!write || !params.immediateData || immediate > params.firstBurst || immediate > expected)) {
            protocolError(ctx, pdu, "immediate data of " + immediate + " bytes not allowed here");
            return;
        }
        // The largest transfer any command takes: COMPARE AND WRITE sends twice its blocks.
        long limit = 2L * LogicalUnit.MAX_TRANSFER_BYTES;
        Task t = new Task(itt, pdu.intAt(24), pdu.lun(), cdb, read, write, (int) Math.min(expected, Integer.MAX_VALUE));
        if (lunNumber(pdu.lun()) != 0 && (cdb[0] & 0xff) != 0xa0 && (cdb[0] & 0xff) != 0x12) {
            finish(ctx, t, checkCondition(Sense.ILLEGAL_REQUEST, 0x25, 0x00));
            return;
        }
        if (write && expected > limit) {
            finish(ctx, t, checkCondition(Sense.ILLEGAL_REQUEST, 0x24, 0x00));
            return;
        }
        long budget = Math.min(expected, limit);
        if (budgetHeld > 0 && budgetHeld + budget > target.config().bufferedBytesPerSession()) {
            finish(ctx, t, ScsiResult.status(ScsiStatus.TASK_SET_FULL));
            return;
        }
        budgetHeld += budget;
        t.budget = budget;
        tasks.put(itt, t);
        if (!write || expected == 0) {
            execute(ctx, t, Unpooled.EMPTY_BUFFER);
            return;
        }
        if (immediate == expected) {
            execute(ctx, t, pdu.data().retain()); // the received segment itself: no copy
            return;
        }
        t.buffer = Buffers.direct(t.expectedLength);
        t.buffer.writeBytes(pdu.data());
        t.received = immediate;
        t.unsolicitedLeft = !params.initialR2T && !finalBit
                ? Math.max(0, Math.min(params.firstBurst, t.expectedLength) - immediate) : 0;
        if (t.unsolicitedLeft == 0) {
            solicit(ctx, t);
        }
    }

    static int lunNumber(long lun) {
        return (int) ((lun >>> 48) & 0x3fff);
    }

    private static ScsiResult checkCondition(int key, int asc, int ascq) {
        return ScsiResult.checkCondition(Sense.build(false, key, asc, ascq, -1));
    }

    /** Asks for the next burst of data with an R2T, or runs the command once it has all of it. */
    private void solicit(ChannelHandlerContext ctx, Task t) {
        if (t.received >= t.expectedLength) {
            ByteBuf data = t.buffer;
            t.buffer = null;
            execute(ctx, t, data);
            return;
        }
        int length = Math.min(params.maxBurst, t.expectedLength - t.received);
        int tag = nextTransferTag++;
        if (nextTransferTag == RESERVED) {
            nextTransferTag = 1;
        }
        t.r2tTag = tag;
        t.r2tEnd = t.received + length;
        t.nextDataSN = 0;
        send(ctx, TargetPdus.r2t(t.lun, t.itt, tag, t.r2tCount++, t.received, length), false);
    }

    private void dataOut(ChannelHandlerContext ctx, Pdu pdu) {
        Task t = tasks.get(pdu.initiatorTaskTag());
        if (t == null || t.buffer == null) {
            return; // data of a task that was refused or aborted: dropped
        }
        int ttt = pdu.targetTransferTag();
        boolean unsolicited = ttt == RESERVED;
        int length = pdu.dataLength();
        int end = unsolicited ? t.received + t.unsolicitedLeft : t.r2tEnd;
        if ((unsolicited ? t.unsolicitedLeft == 0 : ttt != t.r2tTag) || pdu.dataSN() != t.nextDataSN
                || pdu.bufferOffset() != t.received || t.received + length > end) {
            protocolError(ctx, pdu, String.format("Data-Out out of sequence (itt 0x%x ttt 0x%x DataSN %d offset %d"
                    + " length %d; expected DataSN %d offset %d up to %d)", t.itt, ttt, pdu.dataSN(), pdu.bufferOffset(),
                    length, t.nextDataSN, t.received, end));
            return;
        }
        t.buffer.writeBytes(pdu.data());
        t.received += length;
        t.nextDataSN++;
        if (unsolicited) {
            t.unsolicitedLeft -= length;
            if (pdu.finalBit() || t.unsolicitedLeft == 0) {
                t.unsolicitedLeft = 0;
                solicit(ctx, t);
            }
        } else if (t.received == t.r2tEnd) {
            t.r2tTag = -1;
            solicit(ctx, t);
        }
    }

    private void execute(ChannelHandlerContext ctx, Task t, ByteBuf data) {
        t.executing = true;
        Nexus nexus = session.nexus();
        CompletableFuture<ScsiResult> f = target.dispatcher().execute(new ScsiRequest(t.cdb, data, nexus));
        if (f.isDone()) {
            complete(ctx, t, f.join());
        } else {
            f.whenComplete((r, e) -> ctx.executor().execute(() -> complete(ctx, t, r)));
        }
    }

    private void complete(ChannelHandlerContext ctx, Task t, ScsiResult r) {
        tasks.remove(t.itt, t);
        budgetHeld -= t.budget;
        t.budget = 0;
        if (t.aborted || !ctx.channel().isActive()) {
            r.data().release();
            return;
        }
        if (lunNumber(t.lun) != 0 && (t.cdb[0] & 0xff) == 0x12 && r.data().readableBytes() > 0) {
            r.data().setByte(r.data().readerIndex(), 0x7f); // no logical unit here (SPC-4 6.6.2)
        }
        responses.send(ctx, t, r);
    }

    private void finish(ChannelHandlerContext ctx, Task t, ScsiResult r) {
        responses.send(ctx, t, r);
    }

    /** Ends a task now: no response will be sent for it; its buffers go back. */
    void abort(Task t) {
        t.aborted = true;
        if (!t.executing) {
            tasks.remove(t.itt, t);
            t.releaseBuffer();
            budgetHeld -= t.budget;
            t.budget = 0;
        }
    }

    void abortAll() {
        for (Task t : new ArrayList<>(tasks.values())) {
            abort(t);
        }
    }

    // Everything else

    private void nopOut(ChannelHandlerContext ctx, Pdu pdu) {
        if (pdu.initiatorTaskTag() == RESERVED) {
            return; // the answer to a NOP-In of ours
        }
        send(ctx, TargetPdus.nopIn(pdu.lun(), pdu.initiatorTaskTag(), RESERVED, pdu.data().retain()), true);
    }

    private void logout(ChannelHandlerContext ctx, Pdu pdu) {
        int reason = pdu.flags() & 0x7f;
        int response = reason == 2 ? 2 : 0; // connection recovery is not supported at ERL 0
        abortAll();
        Pdu p = TargetPdus.logoutResponse(pdu.initiatorTaskTag(), response);
        stamp(p, true);
        ctx.writeAndFlush(p).addListener(ChannelFutureListener.CLOSE);
    }

    void reject(ChannelHandlerContext ctx, Pdu pdu, int reason) {
        ByteBuf header = Unpooled.wrappedBuffer(pdu.bhs().clone());
        send(ctx, TargetPdus.reject(reason, header), true);
    }

    private void protocolError(ChannelHandlerContext ctx, Pdu pdu, String why) {
        log.info("{}: protocol error, closing: {}", ctx.channel().remoteAddress(), why);
        Pdu p = TargetPdus.reject(REJECT_PROTOCOL_ERROR, Unpooled.wrappedBuffer(pdu.bhs().clone()));
        stamp(p, true);
        ctx.writeAndFlush(p).addListener(ChannelFutureListener.CLOSE);
    }

    /** Sends a PDU with the connection's StatSN and the session's window; {@code status}: it consumes a StatSN. */
    void send(ChannelHandlerContext ctx, Pdu p, boolean status) {
        stamp(p, status);
        ctx.writeAndFlush(p, ctx.voidPromise());
    }

    private void stamp(Pdu p, boolean status) {
        p.intAt(24, status ? statSN++ : statSN);
        p.intAt(28, window.expCmdSN()).intAt(32, window.maxCmdSN());
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        for (Task t : tasks.values()) {
            t.aborted = true;
            t.releaseBuffer();
        }
        tasks.clear();
        window.clear();
        super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.info("{}: closing: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
