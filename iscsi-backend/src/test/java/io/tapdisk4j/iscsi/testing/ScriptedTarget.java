package io.tapdisk4j.iscsi.testing;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.iscsi.text.TextParameters;
import io.tapdisk4j.iscsi.pdu.DigestSettings;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;
import io.tapdisk4j.iscsi.pdu.PduDecoder;
import io.tapdisk4j.iscsi.pdu.PduEncoder;

import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A target whose full feature phase a test scripts PDU by PDU, for the situations tgtd cannot be made to
 * produce on demand (a unit attention, a target's NOP-In ping, a closed CmdSN window, split Data-In,
 * several R2Ts, Reject, asynchronous logout requests, hostile Data-In). Login is accepted at once with
 * the operational values given; every PDU the initiator sends is recorded for assertions.
 */
public final class ScriptedTarget implements AutoCloseable {

    /** What the test does with each non-login PDU the initiator sends. */
    public interface Script {
        void onPdu(Session s, Received pdu);
    }

    /** A received PDU, copied (header and data) so that it outlives the event loop's buffers. */
    public record Received(Pdu header, byte[] data) {
        public int opcode() {
            return header.opcode();
        }

        public int itt() {
            return header.initiatorTaskTag();
        }

        public int cmdSN() {
            return header.intAt(24);
        }

        public int cdbOpcode() {
            return header.byteAt(32);
        }
    }

    private final EventLoopGroup group = EventLoops.newGroup("scripted-target", 1);
    private final Channel server;
    private final Map<String, String> operational;
    private final AtomicInteger logins = new AtomicInteger();
    public final BlockingQueue<Received> received = new LinkedBlockingQueue<>();
    private volatile Script script;
    /** Commands the target admits beyond ExpCmdSN: MaxCmdSN = ExpCmdSN + window - 1. */
    public volatile int window = 32;
    /** SCSI commands that arrived with a CmdSN above the MaxCmdSN last announced. */
    public final AtomicInteger windowViolations = new AtomicInteger();

    public ScriptedTarget(Map<String, String> operational, Script script) throws InterruptedException {
        this.operational = operational;
        this.script = script;
        server = new ServerBootstrap().group(group).channel(EventLoops.serverSocketChannel())
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        DigestSettings d = new DigestSettings();
                        ch.pipeline().addLast(PduDecoder.forTarget(d), new PduEncoder(d), new Session(ch));
                    }
                }).bind("127.0.0.1", 0).sync().channel();
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    public int logins() {
        return logins.get();
    }

    public void script(Script s) {
        script = s;
    }

    public Received next() throws InterruptedException {
        Received r = received.poll(10, TimeUnit.SECONDS);
        if (r == null) {
            throw new AssertionError("the initiator sent nothing within 10 s");
        }
        return r;
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** One connection: sequence numbers and helpers to answer. */
    public final class Session extends SimpleChannelInboundHandler<Pdu> {
        public final Channel channel;
        private int statSN = 100;
        private int expCmdSN;
        private int maxAnnounced;

        Session(Channel channel) {
            this.channel = channel;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, Pdu pdu) {
            byte[] data = new byte[pdu.dataLength()];
            pdu.data().getBytes(pdu.data().readerIndex(), data);
            Received r = new Received(new Pdu(pdu.bhs().clone(), null), data);
            if (pdu.opcode() == Opcode.LOGIN_REQUEST) {
                login(pdu);
                return;
            }
            if (!pdu.immediate() && (pdu.opcode() == Opcode.SCSI_COMMAND)) {
                if (r.cmdSN() - maxAnnounced > 0) {
                    windowViolations.incrementAndGet();
                }
                expCmdSN = r.cmdSN() + 1;
            }
            if (pdu.opcode() == Opcode.LOGOUT_REQUEST) {
                Pdu resp = Pdu.of(Opcode.LOGOUT_RESPONSE, false, null);
                resp.flags(0x80).intAt(16, r.itt());
                ctx.writeAndFlush(stamp(resp, true));
                return;
            }
            if (pdu.opcode() == Opcode.NOP_OUT && r.itt() != Pdu.RESERVED_TAG) {
                nopInAnswer(r); // keepalive pings are always answered
                ctx.flush();
                return;
            }
            received.add(r);
            script.onPdu(this, r);
            ctx.flush();
        }

        private void login(Pdu req) {
            int csg = (req.flags() >> 2) & 3;
            int nsg = req.flags() & 3;
            expCmdSN = req.intAt(24);
            TextParameters text = new TextParameters();
            if (csg == 0) {
                text.add("AuthMethod", "None");
            } else {
                operational.forEach(text::add);
            }
            Pdu resp = Pdu.of(Opcode.LOGIN_RESPONSE, false, text.encode(channel.alloc()));
            resp.flags(0x80 | (csg << 2) | nsg);
            System.arraycopy(req.bhs(), 8, resp.bhs(), 8, 6);
            resp.shortAt(14, 1).intAt(16, req.initiatorTaskTag());
            stamp(resp, true);
            if (nsg == 3) {
                logins.incrementAndGet();
            }
            channel.writeAndFlush(resp);
        }

        /** Fills StatSN (advancing it when the PDU carries status), ExpCmdSN and MaxCmdSN. */
        public Pdu stamp(Pdu p, boolean status) {
            maxAnnounced = expCmdSN + window - 1;
            p.intAt(24, status ? statSN++ : statSN).intAt(28, expCmdSN).intAt(32, maxAnnounced);
            return p;
        }

        public void send(Pdu p) {
            channel.write(p);
        }

        public void scsiResponse(int itt, int status, byte[] sense) {
            ByteBuf data = Unpooled.EMPTY_BUFFER;
            if (sense != null) {
                data = Unpooled.buffer().writeShort(sense.length).writeBytes(sense);
            }
            Pdu p = Pdu.of(Opcode.SCSI_RESPONSE, false, data);
            p.flags(0x80).byteAt(3, status).intAt(16, itt);
            send(stamp(p, true));
        }

        public void dataIn(int itt, int offset, byte[] bytes, boolean withStatus, int residual) {
            Pdu p = Pdu.of(Opcode.DATA_IN, false, Unpooled.wrappedBuffer(bytes));
            p.flags((withStatus ? 0x81 : 0) | (residual > 0 ? 0x02 : 0)).intAt(16, itt).intAt(20, Pdu.RESERVED_TAG)
                    .intAt(40, offset).intAt(44, residual);
            send(stamp(p, withStatus));
        }

        public void r2t(int itt, int ttt, int r2tSN, int offset, int length) {
            Pdu p = Pdu.of(Opcode.R2T, false, null);
            p.flags(0x80).intAt(16, itt).intAt(20, ttt).intAt(36, r2tSN).intAt(40, offset).intAt(44, length);
            send(stamp(p, false));
        }

        public void nopIn(int ttt, byte[] ping) {
            Pdu p = Pdu.of(Opcode.NOP_IN, false, Unpooled.wrappedBuffer(ping));
            p.flags(0x80).intAt(16, Pdu.RESERVED_TAG).intAt(20, ttt);
            send(stamp(p, false));
        }

        public void nopInAnswer(Received ping) {
            Pdu p = Pdu.of(Opcode.NOP_IN, false, null);
            p.flags(0x80).intAt(16, ping.itt()).intAt(20, Pdu.RESERVED_TAG);
            send(stamp(p, true));
        }

        public void reject(Received rejected, int reason) {
            Pdu p = Pdu.of(Opcode.REJECT, false, Unpooled.wrappedBuffer(rejected.header().bhs().clone()));
            p.flags(0x80).byteAt(2, reason).intAt(16, Pdu.RESERVED_TAG);
            send(stamp(p, true));
        }

        public void taskManagementResponse(Received request, int response) {
            Pdu p = Pdu.of(Opcode.TASK_MGMT_RESPONSE, false, null);
            p.flags(0x80).byteAt(2, response).intAt(16, request.itt());
            send(stamp(p, true));
        }

        public void asyncLogoutRequest() {
            Pdu p = Pdu.of(Opcode.ASYNC_MESSAGE, false, null);
            p.flags(0x80).intAt(16, Pdu.RESERVED_TAG).byteAt(36, 1).shortAt(40, 2);
            send(stamp(p, true));
            channel.flush();
        }

        /** Lets more commands in: MaxCmdSN moves on with the next PDU sent. */
        public void flush() {
            channel.flush();
        }
    }
}
