package io.tapdisk4j.iscsi.session;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

class DataInAssemblerTest {

    private static Task read(int length) {
        return new Task(ScsiCommand.read(0, new byte[10], length), new CompletableFuture<>());
    }

    private static Pdu dataIn(int offset, byte fill, int n) {
        ByteBuf data = Unpooled.buffer(n);
        for (int i = 0; i < n; i++) {
            data.writeByte(fill);
        }
        return Pdu.of(Opcode.DATA_IN, false, data).intAt(40, offset);
    }

    @Test
    void segmentsOutOfOrderLandAtTheirOffsets() {
        Task t = read(3000);
        try (var a = new Releasing(dataIn(2000, (byte) 3, 1000)); var b = new Releasing(dataIn(0, (byte) 1, 2000))) {
            assertNull(DataInAssembler.accept(t, a.pdu));
            assertNull(DataInAssembler.accept(t, b.pdu));
        }
        ByteBuf out = DataInAssembler.take(t, 0);
        assertEquals(3000, out.readableBytes());
        assertEquals(1, out.getByte(1999));
        assertEquals(3, out.getByte(2000));
        assertNull(t.readBuffer);
        out.release();
    }

    @Test
    void aWholeReadInOneSegmentIsKeptWithoutACopy() {
        Task t = read(512);
        Pdu p = dataIn(0, (byte) 9, 512);
        assertNull(DataInAssembler.accept(t, p));
        assertSame(p.data(), t.readBuffer.unwrap(), "a slice of the received segment");
        p.release();
        ByteBuf out = DataInAssembler.take(t, 0);
        assertEquals(9, out.getByte(511));
        out.release();
    }

    @Test
    void anUnderflowIsZeroesNotStaleMemory() {
        Task t = read(4096);
        ByteBuf dest = DataInAssembler.destination(t, 0, 1024);
        assertNotNull(dest);
        dest.setBytes(0, new byte[4096]);
        dest.setByte(2000, 0x55); // stale byte past what the target sent
        dest.writerIndex(1024);
        ByteBuf out = DataInAssembler.take(t, 0);
        assertEquals(4096, out.readableBytes());
        assertEquals(0, out.getByte(2000));
        out.release();
        Task r = read(4096);
        ByteBuf shorter = DataInAssembler.take(r, 1024);
        assertEquals(3072, shorter.readableBytes(), "length less the residual");
        shorter.release();
    }

    @Test
    void segmentsPastTheReadAreProtocolErrors() {
        Task t = read(1000);
        try (var a = new Releasing(dataIn(900, (byte) 0, 200))) {
            assertNotNull(DataInAssembler.accept(t, a.pdu));
        }
        assertNull(DataInAssembler.destination(t, 900, 200));
        assertNull(DataInAssembler.destination(t, -1, 10));
        Task write = read(0);
        try (var a = new Releasing(dataIn(0, (byte) 0, 10))) {
            assertNotNull(DataInAssembler.accept(write, a.pdu), "Data-In for a command that reads nothing");
        }
    }

    @Test
    void nextPduIsTheRestOfTheReadUpToTheSegmentLimit() {
        Task t = read(100_000);
        assertEquals(65536, DataInAssembler.nextPduPayload(t, 65536));
        DataInAssembler.destination(t, 0, 65536).writerIndex(65536);
        assertEquals(100_000 - 65536, DataInAssembler.nextPduPayload(t, 65536));
        t.release();
    }

    private record Releasing(Pdu pdu) implements AutoCloseable {
        @Override
        public void close() {
            pdu.release();
        }
    }
}
