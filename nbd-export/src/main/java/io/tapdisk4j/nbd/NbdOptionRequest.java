package io.tapdisk4j.nbd;

/**
 * One option from the client during negotiation. {@code data} is null when the client declared more data
 * than the decoder accepts ({@code declaredLength} says how much): the decoder discarded it, and the server
 * answers NBD_REP_ERR_TOO_BIG.
 */
public record NbdOptionRequest(int option, byte[] data, long declaredLength) {

    public static NbdOptionRequest of(int option, byte[] data) {
        return new NbdOptionRequest(option, data, data.length);
    }

    public boolean tooBig() {
        return data == null;
    }

    @Override
    public String toString() {
        return "NbdOptionRequest[" + NbdProtocol.optionName(option) + ", " + declaredLength + " bytes]";
    }
}
