package io.tapdisk4j.iscsi.target;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.util.concurrent.ScheduledFuture;
import io.tapdisk4j.iscsi.pdu.DigestSettings;
import io.tapdisk4j.iscsi.pdu.Pdu;
import io.tapdisk4j.iscsi.target.scsi.Nexus;
import io.tapdisk4j.iscsi.text.LoginException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;

/**
 * The login phase of a connection: feeds Login Requests to a {@link TargetLoginNegotiator}, answers them,
 * and on the move to the full feature phase registers the session (reinstating an older one of the same
 * initiator port), switches digests on and hands the connection to a {@link FullFeatureHandler}. A login
 * that does not finish within the configured time is cut off.
 */
final class TargetLoginHandler extends SimpleChannelInboundHandler<Pdu> {

    private static final Logger log = LoggerFactory.getLogger(TargetLoginHandler.class);

    private final TargetContext target;
    private final DigestSettings digests;
    private final TargetLoginNegotiator negotiator;
    private ScheduledFuture<?> timeout;
    private int statSN;
    private boolean first = true;

    TargetLoginHandler(TargetContext target, DigestSettings digests) {
        this.target = target;
        this.digests = digests;
        this.negotiator = new TargetLoginNegotiator(target.config());
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        long millis = target.config().loginTimeout().toMillis();
        timeout = ctx.executor().schedule(() -> {
            log.warn("{}: login not finished within {} ms, closing", ctx.channel().remoteAddress(), millis);
            ctx.close();
        }, millis, TimeUnit.MILLISECONDS);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (timeout != null) {
            timeout.cancel(false);
        }
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, Pdu request) {
        if (first) {
            statSN = request.intAt(28); // the initiator's ExpStatSN starts the connection's numbering
        }
        TargetLoginNegotiator.Answer answer;
        try {
            answer = negotiator.handle(request);
        } catch (LoginException e) {
            refuse(ctx, request, e);
            return;
        }
        first = false;
        int tsih = 0;
        TargetSession session = null;
        if (answer.fullFeature()) {
            try {
                session = negotiator.parameters().discovery ? null : joinSession(ctx);
            } catch (LoginException e) {
                refuse(ctx, request, e);
                return;
            }
            tsih = session == null ? target.sessions().discoveryTsih() : session.tsih();
        }
        Pdu response = TargetPdus.loginResponse(request.bhs(), answer.flags(), tsih, 0, 0,
                answer.text().encode(ctx.alloc()));
        stamp(response);
        ctx.writeAndFlush(response);
        if (!answer.fullFeature()) {
            return;
        }
        NegotiatedParameters p = negotiator.parameters();
        // Digests apply from the first PDU after the final Login Response, in both directions.
        digests.headerDigest(p.headerDigest);
        digests.dataDigest(p.dataDigest);
        CommandWindow window = new CommandWindow(negotiator.initialCmdSN(), target.config().commandWindow());
        FullFeatureHandler next = new FullFeatureHandler(target, session, p, window, statSN);
        ctx.pipeline().replace(this, "iscsi-full-feature", next);
        log.debug("{}: {} session for {} in full feature phase", ctx.channel().remoteAddress(),
                p.discovery ? "discovery" : "normal", p.initiatorName);
    }

    private TargetSession joinSession(ChannelHandlerContext ctx) throws LoginException {
        NegotiatedParameters p = negotiator.parameters();
        Nexus nexus = new Nexus(p.initiatorName, negotiator.isidValue());
        if (negotiator.tsih() != 0) {
            TargetSession existing = target.sessions().byTsih(negotiator.tsih());
            if (existing == null || !existing.nexus().equals(nexus)) {
                throw new LoginException("no session " + negotiator.tsih(), 2, 0x0a);
            }
        }
        TargetSession session = new TargetSession(nexus, p);
        session.channel(ctx.channel());
        TargetSession old = target.sessions().add(session);
        if (old != null) {
            log.info("{}: reinstating the session of {} (TSIH {})", ctx.channel().remoteAddress(), nexus.transportId(),
                    old.tsih());
            old.close();
        }
        ctx.channel().closeFuture().addListener(f -> target.sessions().remove(session));
        target.dispatcher().logicalUnit().reservations().seen(nexus);
        return session;
    }

    private void stamp(Pdu response) {
        response.intAt(24, statSN++);
        int exp = negotiator.initialCmdSN();
        response.intAt(28, exp).intAt(32, exp + target.config().commandWindow() - 1);
    }

    private void refuse(ChannelHandlerContext ctx, Pdu request, LoginException e) {
        int statusClass = Math.max(e.statusClass(), 2);
        int detail = Math.max(e.statusDetail(), 0);
        log.info("{}: login refused ({}/{}): {}", ctx.channel().remoteAddress(), statusClass, detail, e.getMessage());
        Pdu response = TargetPdus.loginResponse(request.bhs(), request.flags() & 0x0c, 0, statusClass, detail, null);
        stamp(response);
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.info("{}: closing during login: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
