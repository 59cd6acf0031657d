package io.tapdisk4j.iscsi.target;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.tapdisk4j.block.local.MemoryDevice;
import io.tapdisk4j.iscsi.pdu.DigestSettings;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;
import io.tapdisk4j.iscsi.pdu.PduDecoder;
import io.tapdisk4j.iscsi.pdu.PduEncoder;
import io.tapdisk4j.iscsi.target.scsi.LogicalUnit;
import io.tapdisk4j.iscsi.target.scsi.ScsiDispatcher;
import io.tapdisk4j.iscsi.text.TextParameters;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The target's pipeline in an EmbeddedChannel, PDU by PDU: login, then the full feature phase (writes with
 * immediate, unsolicited and solicited data, reads with status in the last Data-In, NOP, abort, logout),
 * and what hostile input gets (a closed connection, nothing leaked).
 */
@Timeout(60)
class FullFeatureTest {

    static final String IQN = TargetLoginNegotiatorTest.IQN;
    static final int BLOCK = 512;

    private MemoryDevice device;
    private TargetContext context;
    private EmbeddedChannel ch;
    private int cmdSN = 1;
    private int statSN;

    @BeforeEach
    void setUp() {
        device = new MemoryDevice("ff", 1 << 20);
        IscsiTargetConfig config = IscsiTargetConfig.of(IQN).withLimits(65536, 1 << 20, 8, Duration.ofSeconds(5));
        context = new TargetContext(config, new SessionRegistry(),
                new ScsiDispatcher(new LogicalUnit(device, false, IQN), IQN));
        ch = new EmbeddedChannel();
        DigestSettings digests = new DigestSettings();
        digests.maxRecvDataSegmentLength(65536);
        ch.pipeline().addLast(new TargetLoginHandler(context, digests));
    }

    @AfterEach
    void tearDown() {
        ch.finishAndReleaseAll();
        device.close();
    }

    private Pdu next() {
        ch.runPendingTasks();
        return ch.readOutbound();
    }

    /** Logs in with InitialR2T=No, ImmediateData=Yes, FirstBurst 4 blocks, MaxBurst 8 blocks. */
    private void login() throws Exception {
        TextParameters t = new TextParameters().add("InitiatorName", LoginPdus.INITIATOR).add("TargetName", IQN)
                .add("AuthMethod", "None");
        ch.writeInbound(LoginPdus.login(true, 0, 1, cmdSN, 0, t));
        Pdu r = next();
        assertEquals(Opcode.LOGIN_RESPONSE, r.opcode());
        assertEquals(0, r.byteAt(36));
        statSN = r.statSN() + 1;
        r.release();
        TextParameters ops = new TextParameters().add("InitialR2T", "No").add("ImmediateData", "Yes")
                .add("FirstBurstLength", Integer.toString(4 * BLOCK)).add("MaxBurstLength", Integer.toString(8 * BLOCK))
                .add("MaxRecvDataSegmentLength", Integer.toString(2 * BLOCK));
        ch.writeInbound(LoginPdus.login(true, 1, 3, cmdSN, statSN, ops));
        r = next();
        assertEquals(0x87, r.flags());
        assertTrue(r.shortAt(14) != 0, "TSIH assigned");
        assertEquals(cmdSN, r.expCmdSN());
        assertEquals(statSN, r.statSN());
        statSN++;
        r.release();
        assertNotNull(ch.pipeline().get(FullFeatureHandler.class));
    }

    private static ByteBuf pattern(int length, int seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return Unpooled.wrappedBuffer(b);
    }

    @Test
    void writeWithImmediateUnsolicitedAndSolicitedDataThenReadItBack() throws Exception {
        login();
        int blocks = 20;
        ByteBuf expected = pattern(blocks * BLOCK, 1);
        // Immediate data: 1 block; unsolicited Data-Out up to FirstBurst (4 blocks); the rest by R2T in 8-block bursts.
        ch.writeInbound(LoginPdus.command(0x10, cmdSN++, LoginPdus.write10(3, blocks), false, true, blocks * BLOCK,
                false, expected.retainedSlice(0, BLOCK)));
        ch.writeInbound(LoginPdus.dataOut(0x10, Pdu.RESERVED_TAG, 0, BLOCK, false, expected.retainedSlice(BLOCK, 2 * BLOCK)));
        ch.writeInbound(LoginPdus.dataOut(0x10, Pdu.RESERVED_TAG, 1, 3 * BLOCK, true, expected.retainedSlice(3 * BLOCK, BLOCK)));
        int offset = 4 * BLOCK;
        int r2ts = 0;
        while (offset < blocks * BLOCK) {
            Pdu r2t = next();
            assertNotNull(r2t, "R2T expected at offset " + offset);
            assertEquals(Opcode.R2T, r2t.opcode());
            assertEquals(offset, r2t.bufferOffset());
            assertEquals(r2ts++, r2t.dataSN(), "R2TSN at offset " + offset + " length " + r2t.residualOrDesiredLength());
            int length = r2t.residualOrDesiredLength();
            assertEquals(Math.min(8 * BLOCK, blocks * BLOCK - offset), length);
            int ttt = r2t.targetTransferTag();
            r2t.release();
            for (int sn = 0, done = 0; done < length; sn++, done += 2 * BLOCK) {
                int n = Math.min(2 * BLOCK, length - done);
                ch.writeInbound(LoginPdus.dataOut(0x10, ttt, sn, offset + done, done + n == length,
                        expected.retainedSlice(offset + done, n)));
            }
            offset += length;
        }
        Pdu status = next();
        assertEquals(Opcode.SCSI_RESPONSE, status.opcode());
        assertEquals(0, status.status());
        assertEquals(r2ts, status.dataSN(), "ExpDataSN counts the R2Ts");
        assertEquals(statSN++, status.statSN());
        status.release();

        ch.writeInbound(LoginPdus.command(0x11, cmdSN++, LoginPdus.read10(3, blocks), true, false, blocks * BLOCK,
                true, null));
        ByteBuf got = Unpooled.buffer();
        Pdu in;
        int dataSN = 0;
        do {
            in = next();
            assertEquals(Opcode.DATA_IN, in.opcode());
            assertEquals(dataSN++, in.dataSN());
            assertTrue(in.dataLength() <= 2 * BLOCK, "segments within the initiator's MaxRecvDataSegmentLength");
            got.writeBytes(in.data());
            in.release();
        } while ((in.flags() & 0x01) == 0);
        assertEquals(0, in.status());
        assertTrue(ByteBufUtil.equals(expected, got));
        got.release();
        expected.release();
    }

    @Test
    void readPastTheEndIsCheckConditionAndTheSessionGoesOn() throws Exception {
        login();
        long blocks = device.size() / BLOCK;
        ch.writeInbound(LoginPdus.command(1, cmdSN++, LoginPdus.read10(blocks - 1, 2), true, false, 2 * BLOCK, true, null));
        Pdu r = next();
        assertEquals(Opcode.SCSI_RESPONSE, r.opcode());
        assertEquals(2, r.status());
        byte[] sense = new byte[r.dataLength()];
        r.data().getBytes(r.data().readerIndex(), sense);
        assertEquals(0x05, sense[2 + 2] & 0x0f, "ILLEGAL REQUEST");
        assertEquals(0x21, sense[2 + 12] & 0xff, "LBA OUT OF RANGE");
        r.release();
        ch.writeInbound(LoginPdus.command(2, cmdSN++, new byte[] {0x00, 0, 0, 0, 0, 0}, false, false, 0, true, null));
        r = next();
        assertEquals(0, r.status());
        r.release();
    }

    @Test
    void commandsOutsideTheWindowAreDroppedAndHeldOnesRunInOrder() throws Exception {
        login();
        byte[] tur = {0x00, 0, 0, 0, 0, 0};
        ch.writeInbound(LoginPdus.command(1, cmdSN - 1, tur, false, false, 0, true, null)); // already used
        assertNull(next());
        ch.writeInbound(LoginPdus.command(3, cmdSN + 1, tur, false, false, 0, true, null)); // ahead: held
        assertNull(next());
        ch.writeInbound(LoginPdus.command(2, cmdSN, tur, false, false, 0, true, null));
        Pdu a = next();
        Pdu b = next();
        assertEquals(2, a.initiatorTaskTag());
        assertEquals(3, b.initiatorTaskTag());
        assertEquals(cmdSN + 2, b.expCmdSN());
        a.release();
        b.release();
    }

    @Test
    void abortTaskEndsAWriteWaitingForDataAndItsDataIsDropped() throws Exception {
        login();
        ch.writeInbound(LoginPdus.command(0x20, cmdSN++, LoginPdus.write10(0, 16), false, true, 16 * BLOCK, true, null));
        Pdu r2t = next();
        assertEquals(Opcode.R2T, r2t.opcode());
        int ttt = r2t.targetTransferTag();
        r2t.release();
        Pdu tmf = Pdu.of(Opcode.TASK_MGMT_REQUEST, true, null);
        tmf.flags(0x80 | 1).intAt(16, 0x21).intAt(20, 0x20).intAt(24, cmdSN).intAt(32, cmdSN - 1);
        ch.writeInbound(tmf);
        Pdu response = next();
        assertEquals(Opcode.TASK_MGMT_RESPONSE, response.opcode());
        assertEquals(0, response.response());
        response.release();
        ch.writeInbound(LoginPdus.dataOut(0x20, ttt, 0, 0, true, pattern(8 * BLOCK, 2)));
        assertNull(next(), "no response for an aborted task");
        assertTrue(ch.isActive());
    }

    @Test
    void nopOutIsEchoedAndLogoutClosesTheConnection() throws Exception {
        login();
        Pdu nop = Pdu.of(Opcode.NOP_OUT, true, Unpooled.wrappedBuffer(new byte[] {1, 2, 3}));
        nop.flags(0x80).intAt(16, 0x42).intAt(20, Pdu.RESERVED_TAG).intAt(24, cmdSN);
        ch.writeInbound(nop);
        Pdu in = next();
        assertEquals(Opcode.NOP_IN, in.opcode());
        assertEquals(0x42, in.initiatorTaskTag());
        byte[] echo = new byte[3];
        in.data().getBytes(in.data().readerIndex(), echo);
        assertArrayEquals(new byte[] {1, 2, 3}, echo);
        in.release();
        Pdu logout = Pdu.of(Opcode.LOGOUT_REQUEST, true, null);
        logout.flags(0x80).intAt(16, 0x43).intAt(24, cmdSN);
        ch.writeInbound(logout);
        Pdu r = next();
        assertEquals(Opcode.LOGOUT_RESPONSE, r.opcode());
        assertEquals(0, r.response());
        r.release();
        ch.runPendingTasks();
        assertFalse(ch.isActive());
        assertEquals(0, context.sessions().size());
    }

    @Test
    void dataOutOutOfSequenceClosesTheConnection() throws Exception {
        login();
        ch.writeInbound(LoginPdus.command(0x30, cmdSN++, LoginPdus.write10(0, 4), false, true, 4 * BLOCK, false, null));
        ch.writeInbound(LoginPdus.dataOut(0x30, Pdu.RESERVED_TAG, 5, 0, false, pattern(BLOCK, 3)));
        Pdu reject = next();
        assertEquals(Opcode.REJECT, reject.opcode());
        reject.release();
        ch.runPendingTasks();
        assertFalse(ch.isActive());
    }

    @Test
    void writesBeyondTheSessionsBufferBudgetEndInTaskSetFull() throws Exception {
        login();
        // The budget is 1 MiB: four 256 KiB writes waiting for data hold it all, the fifth is refused.
        int blocks = (256 << 10) / BLOCK;
        for (int i = 0; i < 4; i++) {
            ch.writeInbound(LoginPdus.command(0x40 + i, cmdSN++, LoginPdus.write10(0, blocks), false, true,
                    blocks * BLOCK, true, null));
            Pdu r2t = next();
            assertEquals(Opcode.R2T, r2t.opcode());
            r2t.release();
        }
        ch.writeInbound(LoginPdus.command(0x50, cmdSN++, LoginPdus.write10(0, blocks), false, true, blocks * BLOCK,
                true, null));
        Pdu r = next();
        assertEquals(Opcode.SCSI_RESPONSE, r.opcode());
        assertEquals(0x28, r.status(), "TASK SET FULL");
        r.release();
    }

    /** The whole pipeline, bytes in: what the decoder refuses closes the connection. */
    @Test
    void hostileBytesCloseTheConnection() {
        for (int round = 0; round < 3; round++) {
            EmbeddedChannel c = new EmbeddedChannel();
            DigestSettings digests = new DigestSettings();
            digests.maxRecvDataSegmentLength(8192);
            c.pipeline().addLast(PduDecoder.forTarget(digests), new PduEncoder(digests),
                    new TargetLoginHandler(context, digests));
            ByteBuf hostile = Unpooled.buffer(48);
            switch (round) {
                case 0 -> { // a login request declaring a 16 MiB data segment
                    hostile.writeByte(0x43).writeByte(0x81).writeShort(0).writeByte(0).writeMedium(0xffffff);
                    hostile.writeZero(40);
                }
                case 1 -> { // a target opcode from the initiator
                    hostile.writeByte(0x21).writeZero(47);
                }
                default -> { // a SCSI command before any login
                    hostile.writeByte(0x01).writeByte(0x80).writeZero(46);
                }
            }
            try {
                c.writeInbound(hostile);
            } catch (RuntimeException expected) {
                // the decoder's exception is what closes the connection
            }
            c.runPendingTasks();
            assertFalse(c.isActive(), "round " + round);
            c.finishAndReleaseAll();
        }
    }
}
