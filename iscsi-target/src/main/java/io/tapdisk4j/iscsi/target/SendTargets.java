package io.tapdisk4j.iscsi.target;

import io.netty.channel.ChannelHandlerContext;
import io.tapdisk4j.iscsi.pdu.Pdu;
import io.tapdisk4j.iscsi.text.LoginException;
import io.tapdisk4j.iscsi.text.TextParameters;

import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.util.Map;

/**
 * Text requests (RFC 7143 11.10, appendix C): SendTargets answered with this target's name and the
 * portal the initiator reached; every other key NotUnderstood.
 */
final class SendTargets {

    private SendTargets() {
    }

    static void answer(FullFeatureHandler connection, ChannelHandlerContext ctx, Pdu pdu) {
        byte[] raw = new byte[pdu.dataLength()];
        pdu.data().getBytes(pdu.data().readerIndex(), raw);
        TextParameters request;
        try {
            request = TextParameters.decode(raw);
        } catch (LoginException e) {
            connection.reject(ctx, pdu, FullFeatureHandler.REJECT_INVALID_FIELD);
            return;
        }
        String name = connection.target().config().targetName();
        TextParameters answer = new TextParameters();
        for (Map.Entry<String, String> e : request.pairs()) {
            if (e.getKey().equals("SendTargets")) {
                String v = e.getValue();
                if (v.equals("All") || v.equals(name) || v.isEmpty()) {
                    answer.add("TargetName", name);
                    answer.add("TargetAddress", portal(ctx) + ",1");
                }
            } else {
                answer.add(e.getKey(), "NotUnderstood");
            }
        }
        connection.send(ctx, TargetPdus.textResponse(true, pdu.initiatorTaskTag(), answer.encode(ctx.alloc())), true);
    }

    private static String portal(ChannelHandlerContext ctx) {
        InetSocketAddress local = (InetSocketAddress) ctx.channel().localAddress();
        String host = local.getAddress().getHostAddress();
        if (local.getAddress() instanceof Inet6Address) {
            host = "[" + host + "]";
        }
        return host + ":" + local.getPort();
    }
}
