package io.tapdisk4j.iscsi.session;

import io.netty.channel.Channel;
import io.tapdisk4j.iscsi.login.LoginConfig;
import io.tapdisk4j.iscsi.login.SessionParameters;
import io.tapdisk4j.iscsi.pdu.DigestSettings;

/**
 * A logged-in TCP connection: the channel (codec in its pipeline), its digest settings, the login's outcome
 * and the login configuration that succeeded (narrower than the one asked for after a CHAP fallback).
 */
public record Connection(Channel channel, DigestSettings digests, SessionParameters parameters, LoginConfig login) {
}
