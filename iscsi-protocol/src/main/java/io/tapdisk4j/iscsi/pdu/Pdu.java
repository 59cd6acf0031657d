package io.tapdisk4j.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;
import io.netty.buffer.Unpooled;

/**
 * One iSCSI PDU: the 48-byte Basic Header Segment (kept as bytes, read and written through named
 * accessors at the offsets of RFC 7143 section 11) and the data segment (reference counted; the PDU owns
 * one reference). Additional header segments are skipped by the decoder: no PDU this initiator uses needs
 * them. The data segment length field is derived from the data on encoding, never trusted from here.
 */
public final class Pdu extends DefaultByteBufHolder {

    public static final int BHS_LENGTH = 48;
    /** The "reserved" tag value (RFC 7143 11.2.1.2: 0xffffffff). */
    public static final int RESERVED_TAG = 0xffffffff;

    private final byte[] bhs;
    /** For a Data-In the decoder placed: the destination its data was written into (identity only, not owned). */
    private ByteBuf placedInto;

    public Pdu(byte[] bhs, ByteBuf data) {
        super(data == null ? Unpooled.EMPTY_BUFFER : data);
        if (bhs.length != BHS_LENGTH) {
            throw new IllegalArgumentException("BHS must be 48 bytes, got " + bhs.length);
        }
        this.bhs = bhs;
    }

    /** A PDU with an empty header of {@code opcode} (immediate bit set for {@code immediate}). */
    public static Pdu of(int opcode, boolean immediate, ByteBuf data) {
        byte[] h = new byte[BHS_LENGTH];
        h[0] = (byte) ((opcode & 0x3f) | (immediate ? 0x40 : 0));
        return new Pdu(h, data);
    }

    public byte[] bhs() {
        return bhs;
    }

    /**
     * The buffer a {@link DataInSink} named, into which the decoder wrote this Data-In's data at its buffer
     * offset (the data segment is then a slice of it); null when the data arrived as an ordinary segment.
     */
    public ByteBuf placedInto() {
        return placedInto;
    }

    Pdu placedInto(ByteBuf destination) {
        placedInto = destination;
        return this;
    }

    public ByteBuf data() {
        return content();
    }

    public int dataLength() {
        return content().readableBytes();
    }

    public int opcode() {
        return bhs[0] & 0x3f;
    }

    public boolean immediate() {
        return (bhs[0] & 0x40) != 0;
    }

    public int flags() {
        return bhs[1] & 0xff;
    }

    public Pdu flags(int f) {
        bhs[1] = (byte) f;
        return this;
    }

    public boolean finalBit() {
        return (bhs[1] & 0x80) != 0;
    }

    public int byteAt(int offset) {
        return bhs[offset] & 0xff;
    }

    public Pdu byteAt(int offset, int value) {
        bhs[offset] = (byte) value;
        return this;
    }

    public int shortAt(int offset) {
        return ((bhs[offset] & 0xff) << 8) | (bhs[offset + 1] & 0xff);
    }

    public Pdu shortAt(int offset, int value) {
        bhs[offset] = (byte) (value >>> 8);
        bhs[offset + 1] = (byte) value;
        return this;
    }

    public int intAt(int offset) {
        return ((bhs[offset] & 0xff) << 24) | ((bhs[offset + 1] & 0xff) << 16)
                | ((bhs[offset + 2] & 0xff) << 8) | (bhs[offset + 3] & 0xff);
    }

    public Pdu intAt(int offset, int value) {
        bhs[offset] = (byte) (value >>> 24);
        bhs[offset + 1] = (byte) (value >>> 16);
        bhs[offset + 2] = (byte) (value >>> 8);
        bhs[offset + 3] = (byte) value;
        return this;
    }

    public long longAt(int offset) {
        return ((long) intAt(offset) << 32) | (intAt(offset + 4) & 0xffffffffL);
    }

    public Pdu longAt(int offset, long value) {
        intAt(offset, (int) (value >>> 32));
        return intAt(offset + 4, (int) value);
    }

    // Fields at the same place in (almost) every PDU.

    public long lun() {
        return longAt(8);
    }

    public int initiatorTaskTag() {
        return intAt(16);
    }

    public int targetTransferTag() {
        return intAt(20);
    }

    /** StatSN in target PDUs (CmdSN in initiator PDUs sits at the same offset). */
    public int statSN() {
        return intAt(24);
    }

    public int expCmdSN() {
        return intAt(28);
    }

    public int maxCmdSN() {
        return intAt(32);
    }

    /** DataSN in Data-In/Out, R2TSN in R2T, ExpDataSN in SCSI Response. */
    public int dataSN() {
        return intAt(36);
    }

    public int bufferOffset() {
        return intAt(40);
    }

    /** Residual count in Data-In and SCSI Response; Desired Data Transfer Length in R2T. */
    public int residualOrDesiredLength() {
        return intAt(44);
    }

    /** Data-In and SCSI Response status byte. */
    public int status() {
        return bhs[3] & 0xff;
    }

    /** SCSI Response, Task Management Response and Logout Response "Response" byte; Reject reason. */
    public int response() {
        return bhs[2] & 0xff;
    }

    @Override
    public Pdu replace(ByteBuf content) {
        return new Pdu(bhs.clone(), content);
    }

    @Override
    public Pdu retain() {
        super.retain();
        return this;
    }

    @Override
    public Pdu retain(int increment) {
        super.retain(increment);
        return this;
    }

    @Override
    public Pdu touch() {
        super.touch();
        return this;
    }

    @Override
    public Pdu touch(Object hint) {
        super.touch(hint);
        return this;
    }

    @Override
    public String toString() {
        return Opcode.name(opcode()) + "[flags=0x" + Integer.toHexString(flags()) + ", itt=0x"
                + Integer.toHexString(initiatorTaskTag()) + ", data=" + (refCnt() > 0 ? dataLength() : -1) + "]";
    }
}
