package io.tapdisk4j.iscsi.target;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.UUID;

/**
 * One target: its name, who may log in (CHAP one-way, optionally mutual), read-only or not, and the
 * limits that keep a hostile initiator from growing memory.
 *
 * @param chapUser         user name the initiator must log in as (null: no authentication)
 * @param mutualUser       user name the target answers with when the initiator asks for mutual CHAP
 *                         (null: mutual CHAP refused)
 * @param maxRecvDataSegment largest data segment the target accepts (declared at login)
 * @param maxBurst         largest MaxBurstLength and FirstBurstLength accepted
 * @param bufferedBytesPerSession Data-Out and Data-In held for one session at once; beyond it, commands
 *                         end with TASK SET FULL and the initiator retries
 * @param commandWindow    commands an initiator may have outstanding (MaxCmdSN - ExpCmdSN + 1)
 */
public record IscsiTargetConfig(String targetName, String chapUser, String chapSecret, String mutualUser,
                                String mutualSecret, boolean readOnly, int maxRecvDataSegment, int maxBurst,
                                int firstBurst, long bufferedBytesPerSession, int commandWindow, int maxConnections,
                                Duration loginTimeout) {

    public static final int DEFAULT_PORT = 3260;

    public IscsiTargetConfig {
        if (targetName == null || !targetName.matches("(iqn\\.|eui\\.|naa\\.)[A-Za-z0-9.:\\-]+")) {
            throw new IllegalArgumentException("not an iSCSI name (iqn.…, eui.… or naa.…): " + targetName);
        }
        if ((chapUser == null) != (chapSecret == null) || (mutualUser == null) != (mutualSecret == null)) {
            throw new IllegalArgumentException("CHAP needs both a user name and a secret");
        }
        if (mutualUser != null && chapUser == null) {
            throw new IllegalArgumentException("mutual CHAP needs one-way CHAP too");
        }
    }

    public static IscsiTargetConfig of(String targetName) {
        return new IscsiTargetConfig(targetName, null, null, null, null, false, 262144, 1 << 20, 262144,
                128L << 20, 128, 64, Duration.ofSeconds(15));
    }

    /**
     * A stable target name from an export's name (or device URI): the same export gets the same IQN after
     * a restart, which initiators key their sessions and multipath maps by.
     */
    public static String defaultName(String exportName) {
        String slug = exportName.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9.\\-]+", "-").replaceAll("^-+|-+$", "");
        if (slug.length() > 40) {
            slug = slug.substring(slug.length() - 40).replaceAll("^[-.]+", "");
        }
        String hash = UUID.nameUUIDFromBytes(exportName.getBytes(StandardCharsets.UTF_8)).toString().substring(0, 8);
        return "iqn.2026-12.io.tapdisk4j:" + (slug.isEmpty() ? "" : slug + "-") + hash;
    }

    public IscsiTargetConfig withChap(String user, String secret) {
        return new IscsiTargetConfig(targetName, user, secret, mutualUser, mutualSecret, readOnly, maxRecvDataSegment,
                maxBurst, firstBurst, bufferedBytesPerSession, commandWindow, maxConnections, loginTimeout);
    }

    public IscsiTargetConfig withMutualChap(String user, String secret) {
        return new IscsiTargetConfig(targetName, chapUser, chapSecret, user, secret, readOnly, maxRecvDataSegment,
                maxBurst, firstBurst, bufferedBytesPerSession, commandWindow, maxConnections, loginTimeout);
    }

    public IscsiTargetConfig withReadOnly(boolean ro) {
        return new IscsiTargetConfig(targetName, chapUser, chapSecret, mutualUser, mutualSecret, ro, maxRecvDataSegment,
                maxBurst, firstBurst, bufferedBytesPerSession, commandWindow, maxConnections, loginTimeout);
    }

    public IscsiTargetConfig withLimits(int maxRecvDataSegment, long bufferedBytesPerSession, int maxConnections,
                                        Duration loginTimeout) {
        return new IscsiTargetConfig(targetName, chapUser, chapSecret, mutualUser, mutualSecret, readOnly,
                maxRecvDataSegment, maxBurst, firstBurst, bufferedBytesPerSession, commandWindow, maxConnections,
                loginTimeout);
    }

    public boolean chapRequired() {
        return chapUser != null;
    }

    /** "user:secret" as the command line gives it. */
    public static String[] splitCredentials(String userColonSecret) {
        int colon = userColonSecret.indexOf(':');
        if (colon <= 0 || colon == userColonSecret.length() - 1) {
            throw new IllegalArgumentException("expected USER:SECRET, got '" + userColonSecret + "'");
        }
        return new String[] {userColonSecret.substring(0, colon), userColonSecret.substring(colon + 1)};
    }
}
