package io.tapdisk4j.app;

import io.netty.buffer.Unpooled;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.WriterLocks;
import io.tapdisk4j.block.local.FileDevice;
import io.tapdisk4j.iscsi.device.IscsiBlockDevice;
import io.tapdisk4j.iscsi.device.IscsiUrl;
import io.tapdisk4j.iscsi.device.LunWriterLock;
import io.tapdisk4j.iscsi.scsi.Cdb;
import io.tapdisk4j.iscsi.scsi.ScsiStatus;
import io.tapdisk4j.iscsi.session.IscsiSession;
import io.tapdisk4j.iscsi.session.ScsiCommand;
import io.tapdisk4j.iscsi.session.ScsiCommandException;
import io.tapdisk4j.iscsi.session.ScsiResult;
import io.tapdisk4j.iscsi.target.IscsiTarget;
import io.tapdisk4j.iscsi.target.IscsiTargetConfig;
import io.tapdisk4j.testsupport.peers.Tgtd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 19's writer lock on iSCSI LUNs: a persistent reservation that the target enforces, against tgtd and
 * against tapdisk4j's own target (both implement PERSISTENT RESERVE IN/OUT).
 */
@Timeout(180)
class IscsiLunLockTest {

    @TempDir
    Path dir;
    private final List<AutoCloseable> open = new ArrayList<>();
    /** The LUN number on the target under test (tgtd's LUN 0 is its controller). */
    private int lun;

    @AfterEach
    void close() throws Exception {
        WriterLocks.breakStale(false);
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    /** Serves a 16 MiB file on {@code peer}; returns the LUN's URL. */
    private String serve(String peer) throws Exception {
        Path file = dir.resolve("lun.raw");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(16 << 20);
        }
        if (peer.equals("tgtd")) {
            Tgtd tgtd = Tgtd.start(dir.resolve("tgtd")).targetWithLun(file);
            open.add(tgtd);
            lun = 1;
            return tgtd.lunUrl(null, 1);
        }
        FileDevice device = FileDevice.open(file.toString(), false, false);
        open.add(device);
        String iqn = IscsiTargetConfig.defaultName("lock-test");
        IscsiTarget target = IscsiTarget.start(device, IscsiTargetConfig.of(iqn), "127.0.0.1", 0);
        open.add(0, target); // stopped after the sessions, before the device
        return "iscsi://127.0.0.1:" + target.port() + "/" + iqn + "/0";
    }

    private static IscsiBlockDevice openDevice(String url, boolean readOnly) throws Exception {
        IscsiUrl u = IscsiUrl.parse(DeviceUri.parse(url));
        return IscsiBlockDevice.open(u, u.sessionConfig(), readOnly);
    }

    /** A bare session on the LUN, standing in for another initiator. */
    private IscsiSession rawSession(String url) throws Exception {
        IscsiSession s = IscsiSession.open(IscsiUrl.parse(DeviceUri.parse(url)).sessionConfig()).get(30, TimeUnit.SECONDS);
        open.add(s);
        return s;
    }

    private static ScsiResult run(IscsiSession s, ScsiCommand c) throws Exception {
        try {
            return s.execute(c).get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw (Exception) e.getCause();
        }
    }

    private void reserveOut(IscsiSession s, int action, long key, long serviceActionKey) throws Exception {
        run(s, ScsiCommand.write(lun, Cdb.persistentReserveOut(action, 1),
                Cdb.reservationParameters(Buffers.allocator(), key, serviceActionKey))).data().release();
    }

    /** The reservation's key, or 0 when there is none. */
    private long reservationKey(IscsiSession s) throws Exception {
        ScsiResult r = run(s, ScsiCommand.read(lun, Cdb.persistentReserveIn(1, 24), 24));
        try {
            return r.data().readableBytes() >= 24 && r.data().getInt(4) >= 16 ? r.data().getLong(8) : 0;
        } finally {
            r.data().release();
        }
    }

    /** Another initiator holding the LUN under {@code key}: REGISTER, then RESERVE (WRITE EXCLUSIVE). */
    private IscsiSession holding(String url, long key) throws Exception {
        IscsiSession s = rawSession(url);
        reserveOut(s, 0, 0, key);
        reserveOut(s, 1, key, 0);
        return s;
    }

    private static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor(30, TimeUnit.SECONDS);
        return p.pid();
    }

    @ParameterizedTest
    @ValueSource(strings = {"tgtd", "tapdisk4j"})
    void aSecondWriterIsRefusedNamingTheHolderAndTheTargetKeepsItsWritesOut(String peer) throws Exception {
        String url = serve(peer);
        IscsiSession other = rawSession(url);
        try (IscsiBlockDevice writer = openDevice(url, false)) {
            long key = writer.writerLockKey();
            assertEquals(key >>> 48, 0x7434L, "a tapdisk4j key");
            assertEquals(key, reservationKey(other), "the writer holds the LUN under its own key");
            BlockDeviceException e = assertThrows(BlockDeviceException.class, () -> openDevice(url, false).close());
            assertTrue(e.getMessage().contains("locked by another writer"), e.getMessage());
            assertTrue(e.getMessage().contains("pid " + ProcessHandle.current().pid() + " on this host, running"),
                    e.getMessage());
            WriterLocks.breakStale(true);
            assertThrows(BlockDeviceException.class, () -> openDevice(url, false).close(),
                    "--force never breaks a live holder's lock");
            WriterLocks.breakStale(false);
            // The target refuses another initiator's writes; reads and read-only opens go on.
            ScsiCommandException conflict = assertThrows(ScsiCommandException.class, () -> run(other,
                    ScsiCommand.write(lun, Cdb.write16(0, 1, false), Unpooled.buffer(512).writeZero(512))));
            assertEquals(ScsiStatus.RESERVATION_CONFLICT, conflict.status());
            try (IscsiBlockDevice reader = openDevice(url, true)) {
                reader.read(0, 4096).get(30, TimeUnit.SECONDS).release();
            }
            writer.write(0, Unpooled.buffer(4096).writeZero(4096).setByte(0, 7), false).get(30, TimeUnit.SECONDS);
        }
        assertEquals(0, reservationKey(other), "closing released the reservation");
        try (IscsiBlockDevice next = openDevice(url, false)) {
            assertEquals(next.writerLockKey(), reservationKey(other));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tgtd", "tapdisk4j"})
    void forcePreemptsADeadHoldersReservation(String peer) throws Exception {
        String url = serve(peer);
        long deadKey = LunWriterLock.keyOnThisHost(deadPid(), 1);
        IscsiSession dead = holding(url, deadKey);
        BlockDeviceException e = assertThrows(BlockDeviceException.class, () -> openDevice(url, false).close());
        assertTrue(e.getMessage().contains(String.format("0x%016x", deadKey)), e.getMessage());
        assertTrue(e.getMessage().contains("dead") && e.getMessage().contains("--force"), e.getMessage());
        assertEquals(deadKey, reservationKey(dead), "a refused writer changes nothing");
        WriterLocks.breakStale(true);
        byte[] data = new byte[4096];
        data[100] = 42;
        try (IscsiBlockDevice writer = openDevice(url, false)) {
            writer.write(8192, Unpooled.wrappedBuffer(data.clone()), true).get(30, TimeUnit.SECONDS);
            var back = writer.read(8192, 4096).get(30, TimeUnit.SECONDS);
            byte[] got = new byte[4096];
            back.getBytes(back.readerIndex(), got);
            back.release();
            assertArrayEquals(data, got);
            assertEquals(writer.writerLockKey(), reservationKey(dead));
            ScsiCommandException out = assertThrows(ScsiCommandException.class, () -> run(dead,
                    ScsiCommand.write(lun, Cdb.write16(0, 1, false), Unpooled.buffer(512).writeZero(512))),
                    "the old holder's nexus no longer holds the LUN");
            assertEquals(ScsiStatus.RESERVATION_CONFLICT, out.status());
        }
        assertEquals(0, reservationKey(dead), "released on close");
    }

    @ParameterizedTest
    @ValueSource(strings = {"tgtd", "tapdisk4j"})
    void theLockOutlivesAReconnect(String peer) throws Exception {
        String url = serve(peer);
        IscsiSession other = rawSession(url);
        try (IscsiBlockDevice writer = openDevice(url, false)) {
            writer.session().channel().close();
            // ERL 0 reinstatement, same initiator name and ISID: our target keeps the nexus's reservation; tgtd
            // drops it with the old session, and the first write's RESERVATION CONFLICT takes it again.
            writer.write(0, Unpooled.buffer(4096).writeZero(4096), false).get(60, TimeUnit.SECONDS);
            assertTrue(writer.session().reconnects() >= 1);
            assertEquals(writer.writerLockKey(), reservationKey(other));
        }
    }

    /** A device that could not release (its target unreachable at close) leaves a key no open device holds. */
    @ParameterizedTest
    @ValueSource(strings = {"tgtd", "tapdisk4j"})
    void aLeftoverOfThisProcessIsTakenOverWithoutForce(String peer) throws Exception {
        String url = serve(peer);
        IscsiSession leftover = holding(url, LunWriterLock.keyOnThisHost(ProcessHandle.current().pid(), 1023));
        try (IscsiBlockDevice writer = openDevice(url, false)) {
            assertEquals(writer.writerLockKey(), reservationKey(leftover));
        }
    }
}
