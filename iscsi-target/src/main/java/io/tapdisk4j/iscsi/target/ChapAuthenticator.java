package io.tapdisk4j.iscsi.target;

import io.tapdisk4j.iscsi.text.Chap;
import io.tapdisk4j.iscsi.text.LoginException;
import io.tapdisk4j.iscsi.text.TextParameters;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;

/**
 * The target's half of CHAP (RFC 7143 12.1.3, RFC 1994): offers an algorithm from the initiator's list and
 * a fresh challenge, checks the initiator's response in constant time, and, when the initiator sends a
 * challenge of its own (mutual CHAP), answers it with the target's secret. A challenge equal to the one
 * the target sent is refused (a reflection attack).
 */
final class ChapAuthenticator {

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final int CHALLENGE_LENGTH = 16;

    enum Step { WAIT_ALGORITHM, WAIT_RESPONSE, DONE }

    private final IscsiTargetConfig config;
    private Step step = Step.WAIT_ALGORITHM;
    private Chap.Algorithm algorithm;
    private int identifier;
    private byte[] challenge;

    ChapAuthenticator(IscsiTargetConfig config) {
        this.config = config;
    }

    boolean done() {
        return step == Step.DONE;
    }

    /** Handles the CHAP keys of one request, adding the target's keys to {@code answers}. */
    void handle(TextParameters request, TextParameters answers) throws LoginException {
        switch (step) {
            case WAIT_ALGORITHM -> {
                String offer = request.get("CHAP_A");
                if (offer == null) {
                    return; // AuthMethod answered; the algorithm list comes next
                }
                algorithm = choose(offer);
                if (algorithm == null) {
                    throw failure("none of the CHAP algorithms offered (" + offer + ") is supported");
                }
                identifier = RANDOM.nextInt(256);
                challenge = new byte[CHALLENGE_LENGTH];
                RANDOM.nextBytes(challenge);
                answers.add("CHAP_A", Integer.toString(algorithm.code()));
                answers.add("CHAP_I", Integer.toString(identifier));
                answers.add("CHAP_C", Chap.encodeHex(challenge));
                step = Step.WAIT_RESPONSE;
            }
            case WAIT_RESPONSE -> {
                String name = request.get("CHAP_N");
                String response = request.get("CHAP_R");
                if (name == null || response == null) {
                    throw failure("CHAP_N and CHAP_R expected");
                }
                byte[] expected = Chap.response(algorithm, identifier, config.chapSecret(), challenge);
                boolean nameOk = MessageDigest.isEqual(name.getBytes(), config.chapUser().getBytes());
                boolean responseOk = MessageDigest.isEqual(expected, Chap.decodeBinary(response));
                if (!nameOk || !responseOk) {
                    throw failure("CHAP authentication of '" + name + "' failed");
                }
                String theirId = request.get("CHAP_I");
                String theirChallenge = request.get("CHAP_C");
                if (theirId != null || theirChallenge != null) {
                    if (theirId == null || theirChallenge == null) {
                        throw failure("mutual CHAP needs both CHAP_I and CHAP_C");
                    }
                    if (config.mutualUser() == null) {
                        throw failure("the initiator asked for mutual CHAP, which is not configured");
                    }
                    byte[] c = Chap.decodeBinary(theirChallenge);
                    if (Arrays.equals(c, challenge) || c.length == 0) {
                        throw failure("the initiator's CHAP challenge repeats the target's");
                    }
                    int id;
                    try {
                        id = Integer.parseInt(theirId.trim());
                    } catch (NumberFormatException e) {
                        throw failure("malformed CHAP_I " + theirId);
                    }
                    if (id < 0 || id > 255) {
                        throw failure("CHAP_I out of range: " + id);
                    }
                    answers.add("CHAP_N", config.mutualUser());
                    answers.add("CHAP_R", Chap.encodeHex(Chap.response(algorithm, id, config.mutualSecret(), c)));
                } else if (config.mutualUser() != null) {
                    throw failure("mutual CHAP is required");
                }
                step = Step.DONE;
            }
            case DONE -> {
            }
        }
    }

    private static Chap.Algorithm choose(String offer) {
        for (String part : offer.split(",")) {
            try {
                Chap.Algorithm a = Chap.Algorithm.ofCode(Integer.parseInt(part.trim()));
                if (a != null) {
                    return a;
                }
            } catch (NumberFormatException e) {
                // not a number: skip it, as RFC 7143 says of values not understood in a list
            }
        }
        return null;
    }

    private static LoginException failure(String message) {
        return new LoginException(message, 2, 1); // authentication failure
    }
}
