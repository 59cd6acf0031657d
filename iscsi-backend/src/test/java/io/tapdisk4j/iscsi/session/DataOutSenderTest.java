package io.tapdisk4j.iscsi.session;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.tapdisk4j.iscsi.login.SessionParameters;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DataOutSenderTest {

    private final List<Pdu> sent = new ArrayList<>();
    private final DataOutSender sender = new DataOutSender(sent::add);

    @AfterEach
    void release() {
        sent.forEach(Pdu::release);
    }

    static SessionParameters parameters(int maxXmit, int firstBurst, boolean immediate, boolean initialR2T) {
        return new SessionParameters(false, false, maxXmit, 262144, 262144, firstBurst, immediate, initialR2T, 1,
                true, true, 0, 1, 1, 64, 1, null, null);
    }

    private static Task write(int length) {
        ByteBuf data = Unpooled.buffer(length);
        for (int i = 0; i < length; i++) {
            data.writeByte(i * 7);
        }
        Task t = new Task(ScsiCommand.write(0, new byte[10], data), new CompletableFuture<>());
        t.itt = 5;
        t.cmdSN = 9;
        return t;
    }

    /** What was sent: opcode, F bit, buffer offset (Data-Out) or expected length (command), segment length. */
    private List<String> shape() {
        List<String> s = new ArrayList<>();
        for (Pdu p : sent) {
            boolean command = p.opcode() == Opcode.SCSI_COMMAND;
            s.add((command ? "cmd" : "out") + (p.finalBit() ? " F " : " - ")
                    + (command ? p.intAt(20) : p.bufferOffset()) + " " + p.dataLength());
        }
        return s;
    }

    @Test
    void immediateThenUnsolicitedDataUpToFirstBurst() {
        Task t = write(200_000);
        sender.sendCommand(t, parameters(32768, 65536, true, false), 3);
        assertEquals(List.of("cmd - 200000 32768", "out F 32768 32768"), shape());
        assertEquals(Pdu.RESERVED_TAG, sent.get(1).targetTransferTag(), "unsolicited data has no TTT");
        assertEquals(9, sent.getFirst().statSN(), "CmdSN");
        t.release();
    }

    @Test
    void initialR2TSendsOnlyImmediateData() {
        Task t = write(100_000);
        sender.sendCommand(t, parameters(8192, 65536, true, true), 3);
        assertEquals(List.of("cmd F 100000 8192"), shape());
        t.release();
    }

    @Test
    void noImmediateDataMeansDataOutFromOffsetZero() {
        Task t = write(20_000);
        sender.sendCommand(t, parameters(8192, 65536, false, false), 3);
        assertEquals(List.of("cmd - 20000 0", "out - 0 8192", "out - 8192 8192", "out F 16384 3616"), shape());
        for (int i = 1; i < 4; i++) {
            assertEquals(i - 1, sent.get(i).dataSN());
        }
        t.release();
    }

    @Test
    void r2tGetsOneSequenceWithItsTagAndTheRightBytes() {
        Task t = write(100_000);
        Pdu r2t = Pdu.of(Opcode.R2T, false, null).intAt(16, 5).intAt(20, 0x77).intAt(40, 40000).intAt(44, 20000);
        assertNull(sender.onR2T(t, r2t, parameters(16384, 65536, true, true), 3));
        assertEquals(List.of("out - 40000 16384", "out F 56384 3616"), shape());
        assertEquals(0x77, sent.get(0).targetTransferTag());
        assertEquals((byte) (40000 * 7), sent.get(0).data().getByte(0));
        assertEquals((byte) (56384 * 7), sent.get(1).data().getByte(0));
        t.release();
    }

    @Test
    void anR2TOutsideTheWriteIsAnErrorAndSendsNothing() {
        Task t = write(1000);
        Pdu r2t = Pdu.of(Opcode.R2T, false, null).intAt(40, 512).intAt(44, 1024);
        String error = sender.onR2T(t, r2t, parameters(16384, 65536, true, true), 3);
        assertNotNull(error);
        assertTrue(error.contains("1000-byte write"), error);
        assertTrue(sent.isEmpty());
        t.release();
    }

    @Test
    void readsSendTheCommandAlone() {
        Task t = new Task(ScsiCommand.read(0, new byte[10], 4096), new CompletableFuture<>());
        sender.sendCommand(t, parameters(8192, 65536, true, false), 3);
        assertEquals(List.of("cmd F 4096 0"), shape());
    }
}
