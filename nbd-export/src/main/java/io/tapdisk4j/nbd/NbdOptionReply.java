package io.tapdisk4j.nbd;

/** The server's reply to an option: its type (ACK, SERVER, INFO, META_CONTEXT or an error) and data. */
public record NbdOptionReply(int option, int type, byte[] data) {

    private static final byte[] NONE = new byte[0];

    public static NbdOptionReply ack(int option) {
        return new NbdOptionReply(option, NbdProtocol.REP_ACK, NONE);
    }

    /** An error reply carrying a human-readable message (the spec allows UTF-8 text as error data). */
    public static NbdOptionReply error(int option, int type, String message) {
        return new NbdOptionReply(option, type, message.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    public boolean isError() {
        return (type & NbdProtocol.REP_ERR) != 0;
    }

    @Override
    public String toString() {
        return "NbdOptionReply[" + NbdProtocol.optionName(option) + ", type 0x" + Integer.toHexString(type)
                + ", " + data.length + " bytes]";
    }
}
