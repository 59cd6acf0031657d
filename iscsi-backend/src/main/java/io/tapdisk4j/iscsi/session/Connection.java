package io.tapdisk4j.iscsi.session;

import io.netty.channel.Channel;
import io.tapdisk4j.iscsi.login.SessionParameters;
import io.tapdisk4j.iscsi.pdu.DigestSettings;

/** A logged-in TCP connection: the channel (codec in its pipeline), its digest settings and the login's outcome. */
public record Connection(Channel channel, DigestSettings digests, SessionParameters parameters) {
}
