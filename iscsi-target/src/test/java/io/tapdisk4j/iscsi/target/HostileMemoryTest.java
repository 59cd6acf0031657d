package io.tapdisk4j.iscsi.target;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.local.FileDevice;
import io.tapdisk4j.iscsi.pdu.DigestSettings;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;
import io.tapdisk4j.iscsi.pdu.PduEncoder;
import io.tapdisk4j.iscsi.scsi.ScsiStatus;
import io.tapdisk4j.iscsi.text.TextParameters;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Memory stays bounded under hostile initiators, asserted through the limits that bound it (connections per
 * target, buffered write data per session) and through the pooled allocator's used direct memory, not timings:
 * three times the allowed connections each try to park sixteen 1 MiB writes whose data never comes.
 */
@Timeout(120)
class HostileMemoryTest {

    static final String IQN = "iqn.2026-12.io.tapdisk4j.test:hostile";
    static final int MAX_CONNECTIONS = 8;
    static final long BUDGET = 4L << 20;
    static final int SEGMENT = 262144;
    static final int WRITES = 16;
    static final int WRITE_BYTES = 1 << 20;

    @TempDir
    Path dir;
    private FileDevice device;
    private IscsiTarget target;
    private final List<Socket> sockets = new ArrayList<>();

    @AfterEach
    void stop() throws IOException {
        for (Socket s : sockets) {
            s.close();
        }
        if (target != null) {
            target.close();
        }
        if (device != null) {
            device.close();
        }
    }

    private static void send(Socket s, Pdu pdu) throws IOException {
        EmbeddedChannel encoder = new EmbeddedChannel(new PduEncoder(new DigestSettings()));
        try {
            encoder.writeOutbound(pdu);
            ByteBuf b;
            while ((b = encoder.readOutbound()) != null) {
                byte[] bytes = new byte[b.readableBytes()];
                b.readBytes(bytes);
                b.release();
                s.getOutputStream().write(bytes); // fails on a connection the target refused
            }
        } finally {
            encoder.finishAndReleaseAll();
        }
    }

    /** The next PDU's header (its data segment read and dropped). */
    private static Pdu receive(Socket s) throws IOException {
        DataInputStream in = new DataInputStream(s.getInputStream());
        byte[] bhs = new byte[Pdu.BHS_LENGTH];
        in.readFully(bhs);
        int length = ((bhs[5] & 0xff) << 16) | ((bhs[6] & 0xff) << 8) | (bhs[7] & 0xff);
        in.readFully(new byte[(length + 3) & ~3]);
        return new Pdu(bhs, Unpooled.EMPTY_BUFFER);
    }

    /** A normal session: security stage, then operational (ImmediateData, InitialR2T=No, 256 KiB bursts). */
    private static void login(Socket s, int n) throws IOException {
        byte[] isid = {(byte) 0x80, 0, 0, 0, (byte) (n >>> 8), (byte) n};
        send(s, LoginPdus.login(isid, 0, true, 0, 1, 1, 0, new TextParameters()
                .add("InitiatorName", LoginPdus.INITIATOR + n).add("TargetName", IQN).add("AuthMethod", "None")));
        Pdu r = receive(s);
        if (r.opcode() != Opcode.LOGIN_RESPONSE || r.byteAt(36) != 0) {
            throw new IOException("login refused");
        }
        send(s, LoginPdus.login(isid, 0, true, 1, 3, 1, r.statSN() + 1, new TextParameters()
                .add("InitialR2T", "No").add("ImmediateData", "Yes").add("FirstBurstLength", "262144")
                .add("MaxBurstLength", "1048576").add("MaxRecvDataSegmentLength", "262144")));
        r = receive(s);
        if (r.opcode() != Opcode.LOGIN_RESPONSE || r.byteAt(36) != 0 || (r.flags() & 0x03) != 3) {
            throw new IOException("operational stage refused");
        }
    }

    private static Pdu write(int itt, int cmdSN, long lba, int bytes, int immediate) {
        return LoginPdus.command(itt, cmdSN, LoginPdus.write10(lba, bytes / 512), false, true, bytes, true,
                Unpooled.wrappedBuffer(new byte[immediate]));
    }

    @Test
    void parkedWritesHoldNoMoreThanTheLimitsAllow() throws Exception {
        Path file = dir.resolve("lun.raw");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(64L << 20);
        }
        device = FileDevice.open(file.toString(), false, false);
        target = IscsiTarget.start(device, IscsiTargetConfig.of(IQN)
                .withLimits(SEGMENT, BUDGET, MAX_CONNECTIONS, Duration.ofSeconds(60)), "127.0.0.1", 0);
        long before = Buffers.usedDirectMemory(); // both pools: data buffers come from the aligned one

        // A well-behaved initiator first.
        Socket good = new Socket("127.0.0.1", target.port());
        sockets.add(good);
        login(good, 0);

        int loggedIn = 0;
        int refused = 0;
        int parked = 0;
        int full = 0;
        for (int i = 1; i <= 3 * MAX_CONNECTIONS; i++) {
            Socket s = new Socket("127.0.0.1", target.port());
            sockets.add(s);
            try {
                login(s, i);
            } catch (IOException refusedAtTheLimit) {
                refused++;
                continue;
            }
            loggedIn++;
            // Sixteen 1 MiB writes with 256 KiB of immediate data each; the rest never comes.
            for (int w = 0; w < WRITES; w++) {
                send(s, write(w + 1, 1 + w, (long) w * (WRITE_BYTES / 512), WRITE_BYTES, SEGMENT));
            }
            for (int w = 0; w < WRITES; w++) {
                Pdu r = receive(s);
                if (r.opcode() == Opcode.R2T) {
                    parked++;
                } else if (r.opcode() == Opcode.SCSI_RESPONSE && r.status() == ScsiStatus.TASK_SET_FULL) {
                    full++;
                }
            }
        }
        long held = Buffers.usedDirectMemory() - before;

        assertEquals(MAX_CONNECTIONS - 1, loggedIn, "one connection is the good initiator's");
        assertEquals(3 * MAX_CONNECTIONS - loggedIn, refused, "connections past the limit are closed at once");
        int perSession = (int) (BUDGET / WRITE_BYTES);
        assertEquals(loggedIn * perSession, parked, "each session parks what its budget allows");
        assertEquals(loggedIn * (WRITES - perSession), full, "and gets TASK SET FULL for the rest");
        // Unbounded, the parked writes would hold 3 x 8 x 16 MiB = 384 MiB; bounded, a session's budget plus a
        // receive buffer each, and the pool's chunk granularity (a 4 MiB chunk per arena) on top.
        long bound = MAX_CONNECTIONS * (BUDGET + 2L * SEGMENT) + 2L * Runtime.getRuntime().availableProcessors() * (4 << 20);
        assertTrue(held <= bound, "direct memory held " + (held >> 20) + " MiB, bound " + (bound >> 20) + " MiB");

        // The good initiator is still served: a 4 KiB write with its data completes GOOD.
        send(good, write(1, 1, 0, 4096, 4096));
        Pdu r = receive(good);
        assertEquals(Opcode.SCSI_RESPONSE, r.opcode());
        assertEquals(ScsiStatus.GOOD, r.status());
    }
}
