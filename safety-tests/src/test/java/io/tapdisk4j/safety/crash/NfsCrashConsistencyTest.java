package io.tapdisk4j.safety.crash;

import io.tapdisk4j.block.crash.WriteSchedule;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.WriterLocks;
import io.tapdisk4j.testsupport.proxy.FaultProxy;
import io.tapdisk4j.testsupport.proxy.Framing;
import io.tapdisk4j.testsupport.proxy.ProxyConnection;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.vhd.VhdChecker;
import io.tapdisk4j.testsupport.peers.Ganesha;
import io.tapdisk4j.testsupport.peers.GaneshaExtension;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Crash consistency on NFS storage: the writer JVM (the process doing the I/O through tapdisk4j's nfs://
 * client) killed with SIGKILL at random points of a write stream to a raw and to a VHD image on a real
 * nfs-ganesha, then the image reopened: every write acknowledged after a flush (COMMIT) or a FUA write
 * (FILE_SYNC) is there, nothing torn. The VHD also passes {@code vdi check}, and QEMU, reading the file
 * ganesha stores, sees the same content ({@code qemu-img compare}; {@code qemu-img check} has no vpc
 * support).
 *
 * <p>The writer reaches ganesha through the fault proxy, which forwards everything but keeps each upstream
 * connection open after the writer died, until ganesha has answered every call the writer had sent: only
 * then is the image checked (a write still running in ganesha could otherwise land in the middle of a
 * check). The checks themselves talk to ganesha directly.
 */
@ExtendWith(GaneshaExtension.class)
class NfsCrashConsistencyTest {

    static final long RAW_SIZE = (long) CrashRounds.BLOCKS * WriteSchedule.BLOCK;
    static final long VHD_SIZE = RAW_SIZE * 64;

    static Ganesha ganesha;

    @TempDir
    Path dir;

    /** The run's one ganesha (GaneshaExtension stops it when the run ends). */
    @BeforeAll
    static void useGanesha(Ganesha shared) {
        ganesha = shared;
    }

    @Test
    void rawImageOnNfsKeepsEveryAcknowledgedWriteAcrossSigkill() throws Exception {
        long verified = rounds("crash.raw", "raw", RAW_SIZE, path -> CrashRounds.Check.NONE);
        assertTrue(verified > 0);
    }

    @Test
    void vhdImageOnNfsKeepsEveryAcknowledgedWriteAndStaysConsistentAcrossSigkill() throws Exception {
        String qemuImg = Peers.require("qemu-img", "qemu-utils");
        long verified = rounds("crash.vhd", "vhd", VHD_SIZE, reader -> () -> {
            VhdChecker.Result r = VhdChecker.check(BlockDevices.loadDefault(), DeviceUri.parse(reader));
            assertTrue(r.ok(), "vdi check of the VHD on NFS after SIGKILL: " + r.problems());
            Path file = ganesha.export().resolve("crash.vhd");
            CrashRounds.run(qemuImg, "info", "-f", "vpc", file.toString());
            Path expected = CrashRounds.expectedContent(reader, VHD_SIZE, dir.resolve("expected.raw"));
            CrashRounds.run(qemuImg, "compare", "-f", "vpc", "-F", "raw", file.toString(), expected.toString());
            return null;
        });
        assertTrue(verified > 0);
    }

    interface CheckFor {
        CrashRounds.Check of(String readerUri);
    }

    private long rounds(String name, String format, long size, CheckFor check) throws Exception {
        OutstandingCalls calls = new OutstandingCalls();
        try (FaultProxy proxy = FaultProxy.to(ganesha.nfsPort()).framing(Framing.rpcRecords()).policy(calls)
                .keepUpstreams().start()) {
            String reader = ganesha.url(name, ganesha.nfsPort(), "");
            String writer = ganesha.url(name, proxy.port(), "");
            BlockDevices.loadDefault().create(DeviceUri.parse(reader), size, format).close();
            Set<ProxyConnection> done = new HashSet<>();
            CrashRounds.Quiesce quiesce = () -> {
                for (ProxyConnection c : proxy.connections()) {
                    if (done.add(c)) {
                        c.clientSideClosed().get(30, TimeUnit.SECONDS); // the writer is dead: its side closes
                        calls.awaitAnswered(c, Duration.ofSeconds(30));
                        c.cut();
                    }
                }
            };
            // A SIGKILLed writer leaves its NFS writer lock behind (its pid is gone): the verifier breaks it, as an
            // administrator does with --force after a crash.
            WriterLocks.breakStale(true);
            try {
                return CrashRounds.run(dir, "nfs " + format, writer, reader, quiesce, check.of(reader));
            } finally {
                WriterLocks.breakStale(false);
            }
        }
    }
}
