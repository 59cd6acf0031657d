package io.tapdisk4j.iscsi.target.scsi;

/**
 * An I_T nexus: the initiator port (iSCSI initiator name plus ISID, RFC 7143 10.12.5 and SPC-4 7.6.4.6)
 * talking to this target's one port. Reservations and unit attentions are kept per nexus.
 */
public record Nexus(String initiatorName, long isid) {

    public String transportId() {
        return initiatorName + ",i,0x" + String.format("%012x", isid);
    }
}
