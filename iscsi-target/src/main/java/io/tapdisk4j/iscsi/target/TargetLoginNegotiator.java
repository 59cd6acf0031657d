package io.tapdisk4j.iscsi.target;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;
import io.tapdisk4j.iscsi.text.LoginException;
import io.tapdisk4j.iscsi.text.TextParameters;

import java.io.ByteArrayOutputStream;

/**
 * The login phase of one connection as a state machine (RFC 7143 6.3): security stage (AuthMethod None or
 * CHAP), operational stage (via {@link OperationalKeys}), then the move to the full feature phase. Pure:
 * it reads a Login Request and returns the text and flags of the response; {@link TargetLoginHandler}
 * moves the PDUs and assigns the session. A refusal is a {@link LoginException} carrying the status class
 * and detail of the Login Response that ends the connection.
 */
final class TargetLoginNegotiator {

    static final int SECURITY = 0;
    static final int OPERATIONAL = 1;
    static final int FULL_FEATURE = 3;
    /** Login text beyond this (over continuations) is refused: a login is a few hundred bytes. */
    static final int MAX_TEXT = 65536;

    /** The answer to one request: response text and flags, and whether the full feature phase begins. */
    record Answer(TextParameters text, int flags, boolean fullFeature) {
    }

    private final IscsiTargetConfig config;
    private final NegotiatedParameters params = new NegotiatedParameters();
    private final OperationalKeys keys;
    private final ChapAuthenticator chap;
    private int stage = -1;
    private boolean first = true;
    private byte[] isid;
    private int tsih;
    private int cid;
    private int initialCmdSN;
    private String authMethod;
    private boolean portalGroupSent;
    private final ByteArrayOutputStream continued = new ByteArrayOutputStream();

    TargetLoginNegotiator(IscsiTargetConfig config) {
        this.config = config;
        this.keys = new OperationalKeys(config, params);
        this.chap = new ChapAuthenticator(config);
    }

    NegotiatedParameters parameters() {
        return params;
    }

    byte[] isid() {
        return isid;
    }

    long isidValue() {
        long v = 0;
        for (byte b : isid) {
            v = (v << 8) | (b & 0xff);
        }
        return v;
    }

    int tsih() {
        return tsih;
    }

    int cid() {
        return cid;
    }

    int initialCmdSN() {
        return initialCmdSN;
    }

    Answer handle(Pdu request) throws LoginException {
        if (request.opcode() != Opcode.LOGIN_REQUEST) {
            throw new LoginException(Opcode.name(request.opcode()) + " during login", 2, 0);
        }
        byte[] bhs = request.bhs();
        int flags = request.flags();
        boolean transit = (flags & 0x80) != 0;
        boolean cont = (flags & 0x40) != 0;
        int csg = (flags >>> 2) & 3;
        int nsg = flags & 3;
        if (first) {
            if ((bhs[3] & 0xff) > 0) {
                throw new LoginException("iSCSI version " + (bhs[3] & 0xff) + " and up requested", 2, 5);
            }
            isid = new byte[6];
            System.arraycopy(bhs, 8, isid, 0, 6);
            tsih = request.shortAt(14);
            cid = request.shortAt(20);
            initialCmdSN = request.intAt(24);
        } else {
            for (int i = 0; i < 6; i++) {
                if (bhs[8 + i] != isid[i]) {
                    throw new LoginException("ISID changed during login", 2, 0);
                }
            }
        }
        if (cont && transit) {
            throw new LoginException("Login Request with both C and T set", 2, 0);
        }
        appendText(request.data());
        if (cont) {
            return new Answer(new TextParameters(), csg << 2, false);
        }
        TextParameters text = TextParameters.decode(continued.toByteArray());
        continued.reset();
        TextParameters answers = new TextParameters();
        if (first) {
            firstRequest(text, answers);
            first = false;
        }
        if (stage >= 0 && csg != stage) {
            throw new LoginException("login stage " + csg + " where " + stage + " was expected", 2, 0);
        }
        stage = csg;
        boolean mayTransit;
        switch (csg) {
            case SECURITY -> {
                mayTransit = security(text, answers);
                if (transit && !mayTransit && !"CHAP".equals(authMethod)) {
                    throw new LoginException("authentication required before leaving the security stage", 2, 1);
                }
            }
            case OPERATIONAL -> {
                if (config.chapRequired() && !chap.done()) {
                    throw new LoginException("authentication required", 2, 1);
                }
                mayTransit = true;
            }
            default -> throw new LoginException("invalid login stage " + csg, 2, 0);
        }
        keys.answer(text, answers);
        if (csg == OPERATIONAL || (transit && nsg == FULL_FEATURE)) {
            keys.declare(answers);
        }
        if (!params.discovery && !portalGroupSent) {
            answers.add("TargetPortalGroupTag", "1");
            portalGroupSent = true;
        }
        if (transit && mayTransit) {
            if (nsg <= csg || nsg == 2) {
                throw new LoginException("invalid next stage " + nsg, 2, 0);
            }
            stage = nsg;
            return new Answer(answers, 0x80 | (csg << 2) | nsg, nsg == FULL_FEATURE);
        }
        return new Answer(answers, csg << 2, false);
    }

    private void appendText(ByteBuf data) throws LoginException {
        if (continued.size() + data.readableBytes() > MAX_TEXT) {
            throw new LoginException("login text longer than " + MAX_TEXT + " bytes", 2, 0);
        }
        byte[] b = new byte[data.readableBytes()];
        data.getBytes(data.readerIndex(), b);
        continued.writeBytes(b);
    }

    private void firstRequest(TextParameters text, TextParameters answers) throws LoginException {
        params.initiatorName = text.get("InitiatorName");
        if (params.initiatorName == null || params.initiatorName.isBlank()) {
            throw new LoginException("InitiatorName missing", 2, 7);
        }
        String type = text.get("SessionType");
        if (type == null || type.equals("Normal")) {
            params.discovery = false;
        } else if (type.equals("Discovery")) {
            params.discovery = true;
        } else {
            throw new LoginException("SessionType " + type, 2, 7);
        }
        if (!params.discovery) {
            String target = text.get("TargetName");
            if (target == null) {
                throw new LoginException("TargetName missing", 2, 7);
            }
            if (!target.equals(config.targetName())) {
                throw new LoginException("no target " + target, 2, 3);
            }
        }
    }

    /** The security stage; true when the initiator may leave it. */
    private boolean security(TextParameters text, TextParameters answers) throws LoginException {
        String offered = text.get("AuthMethod");
        if (offered != null && authMethod == null) {
            authMethod = chooseAuth(offered);
            answers.add("AuthMethod", authMethod);
        }
        if ("CHAP".equals(authMethod)) {
            chap.handle(text, answers);
            return chap.done();
        }
        if (config.chapRequired()) {
            if (authMethod == null) {
                return false;
            }
            throw new LoginException("authentication required", 2, 1);
        }
        return true;
    }

    private String chooseAuth(String offered) throws LoginException {
        String want = config.chapRequired() ? "CHAP" : "None";
        for (String v : offered.split(",")) {
            if (v.trim().equals(want)) {
                return want;
            }
        }
        throw new LoginException("AuthMethod " + offered + " where " + want + " is required", 2, 1);
    }
}
