package io.tapdisk4j.iscsi.session;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.iscsi.login.Credentials;
import io.tapdisk4j.iscsi.login.LoginConfig;
import io.tapdisk4j.iscsi.text.LoginException;
import io.tapdisk4j.iscsi.text.TextParameters;
import io.tapdisk4j.iscsi.pdu.InitiatorPdus;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;

import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * SendTargets discovery (RFC 7143 Appendix C): a discovery session, one {@code SendTargets=All} text
 * request (continued while the target sets the C bit), then logout.
 */
public final class Discovery {

    /** A target and the portals ("host:port,tpgt") it listed. */
    public record DiscoveredTarget(String name, List<String> addresses) {
    }

    private static final int TEXT_ITT = 1;
    private static final int MAX_TEXT = 1 << 20;

    private Discovery() {
    }

    public static CompletableFuture<List<DiscoveredTarget>> sendTargets(String host, int port, Credentials credentials,
                                                                     Duration timeout) {
        EventLoop loop = EventLoops.shared().next();
        LoginConfig config = LoginConfig.discovery(credentials);
        CompletableFuture<List<DiscoveredTarget>> result = new CompletableFuture<>();
        Connector.connect(loop, host, port, config, io.tapdisk4j.iscsi.login.LoginNegotiator.randomIsid(), 1, timeout)
                .whenComplete((c, err) -> {
                    if (err != null) {
                        result.completeExceptionally(err);
                        return;
                    }
                    Channel ch = c.channel();
                    var timer = loop.schedule(() -> {
                        result.completeExceptionally(new LoginException("SendTargets to " + host + ":" + port
                                + " not answered in " + timeout.toMillis() + " ms"));
                        ch.close();
                    }, timeout.toMillis(), TimeUnit.MILLISECONDS);
                    result.whenComplete((r, e) -> timer.cancel(false));
                    ch.pipeline().addLast(new TextExchange(c, result));
                    ch.eventLoop().execute(() -> {
                        TextParameters t = new TextParameters().add("SendTargets", "All");
                        ch.writeAndFlush(InitiatorPdus.textRequest(TEXT_ITT, Pdu.RESERVED_TAG, c.parameters().cmdSN(),
                                c.parameters().expStatSN(), t.encode(Buffers.allocator())));
                    });
                });
        return result;
    }

    private static final class TextExchange extends SimpleChannelInboundHandler<Pdu> {

        private final Connection connection;
        private final CompletableFuture<List<DiscoveredTarget>> result;
        private final ByteArrayOutputStream text = new ByteArrayOutputStream();
        private int cmdSN;

        TextExchange(Connection connection, CompletableFuture<List<DiscoveredTarget>> result) {
            this.connection = connection;
            this.result = result;
            this.cmdSN = connection.parameters().cmdSN();
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, Pdu pdu) {
            if (pdu.opcode() == Opcode.LOGOUT_RESPONSE) {
                ctx.close();
                return;
            }
            if (pdu.opcode() == Opcode.NOP_IN) {
                if (pdu.targetTransferTag() != Pdu.RESERVED_TAG) {
                    ctx.writeAndFlush(InitiatorPdus.nopOut(pdu.lun(), Pdu.RESERVED_TAG, pdu.targetTransferTag(), cmdSN,
                            pdu.statSN() + 1, pdu.data().retainedDuplicate()));
                }
                return;
            }
            if (pdu.opcode() != Opcode.TEXT_RESPONSE || pdu.initiatorTaskTag() != TEXT_ITT) {
                fail(ctx, new LoginException("unexpected " + Opcode.name(pdu.opcode()) + " during SendTargets"));
                return;
            }
            byte[] segment = new byte[pdu.dataLength()];
            pdu.data().getBytes(pdu.data().readerIndex(), segment);
            text.writeBytes(segment);
            if (text.size() > MAX_TEXT) {
                fail(ctx, new LoginException("SendTargets answer exceeds " + MAX_TEXT + " bytes"));
                return;
            }
            int expStatSN = pdu.statSN() + 1;
            boolean finalBit = (pdu.flags() & 0x80) != 0;
            boolean continued = (pdu.flags() & 0x40) != 0;
            if (!finalBit || continued) {
                // More to come: an empty request with the target's transfer tag asks for it.
                ctx.writeAndFlush(InitiatorPdus.textRequest(TEXT_ITT, pdu.targetTransferTag(), cmdSN, expStatSN,
                        null));
                return;
            }
            try {
                result.complete(parse(TextParameters.decode(text.toByteArray())));
            } catch (LoginException e) {
                fail(ctx, e);
                return;
            }
            cmdSN++;
            ctx.writeAndFlush(InitiatorPdus.logoutRequest(2, cmdSN, expStatSN));
            ctx.executor().schedule(() -> {
                ctx.close();
            }, 1, TimeUnit.SECONDS);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            result.completeExceptionally(new LoginException("connection closed during SendTargets"));
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            fail(ctx, new LoginException("SendTargets failed: " + cause.getMessage()));
        }

        private void fail(ChannelHandlerContext ctx, LoginException e) {
            result.completeExceptionally(e);
            ctx.close();
        }

        @SuppressWarnings("unused")
        Connection connection() {
            return connection;
        }
    }

    static List<DiscoveredTarget> parse(TextParameters text) throws LoginException {
        List<DiscoveredTarget> targets = new ArrayList<>();
        String name = null;
        List<String> addresses = new ArrayList<>();
        for (Map.Entry<String, String> e : text.pairs()) {
            switch (e.getKey()) {
                case "TargetName" -> {
                    if (name != null) {
                        targets.add(new DiscoveredTarget(name, List.copyOf(addresses)));
                    }
                    name = e.getValue();
                    addresses.clear();
                }
                case "TargetAddress" -> {
                    if (name == null) {
                        throw new LoginException("TargetAddress before any TargetName in the SendTargets answer");
                    }
                    addresses.add(e.getValue());
                }
                default -> {
                    // Other keys (TargetAlias …) are not needed for discovery.
                }
            }
        }
        if (name != null) {
            targets.add(new DiscoveredTarget(name, List.copyOf(addresses)));
        }
        return targets;
    }
}
