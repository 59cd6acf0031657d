package io.tapdisk4j.safety.hostile;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.iscsi.device.IscsiBlockDevice;
import io.tapdisk4j.iscsi.device.IscsiUrl;
import io.tapdisk4j.testsupport.proxy.Direction;
import io.tapdisk4j.testsupport.proxy.FaultAction;
import io.tapdisk4j.testsupport.proxy.FaultPolicy;
import io.tapdisk4j.testsupport.proxy.FaultProxy;
import io.tapdisk4j.testsupport.proxy.Framing;
import io.tapdisk4j.testsupport.proxy.ScriptedPolicy;
import io.tapdisk4j.safety.report.SafetyReport;
import io.tapdisk4j.testsupport.PeerProcess;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.testsupport.Ports;
import io.tapdisk4j.testsupport.peers.Ganesha;
import io.tapdisk4j.testsupport.peers.Tgtd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Servers that lie, through the fault proxy: a read's reply replaced by garbage, cut short inside its
 * header, or claiming an absurd length, from nbdkit (NBD), nfs-ganesha (NFSv3) and tgtd (iSCSI). Every read completes within its
 * bound with either exactly the stored data or a {@link BlockDeviceException} with a message (never wrong
 * data, never a hang), and the device serves correct data again afterwards.
 */
class LyingServersTest {

    static final int BLOCK = 65536;
    static final long DISK = 16L << 20;

    @TempDir
    Path dir;

    enum Lie { GARBAGE, TRUNCATED, HUGE_LENGTH }

    /** How one protocol's reply claims its length: a rewrite that makes it claim about 2 GiB or more. */
    interface LengthLie {
        void apply(ByteBuf reply);
    }

    @Test
    void lyingNbdServer() throws Exception {
        int port = Ports.free();
        try (PeerProcess nbdkit = PeerProcess.start("nbdkit", List.of(Peers.require("nbdkit", "nbdkit"), "-f", "-p",
                String.valueOf(port), "-i", "127.0.0.1", "--exit-with-parent", "memory", "16M"), dir, null)) {
            Ports.awaitListening(port, Duration.ofSeconds(15), nbdkit.process());
            lie("nbd", port, Framing.nbd(),
                    e -> e.direction() == Direction.TO_CLIENT && e.frame().length() > BLOCK / 2
                            && (e.kind().equals("simple-reply") || e.kind().equals("structured-reply")),
                    b -> {
                        int r = b.readerIndex();
                        if (b.getInt(r) == 0x668e33ef) {
                            b.setInt(r + 16, 0x7fffffff);   // structured chunk length
                        } else {
                            b.setInt(r, 0x668e33ef);        // a simple reply turned into a 2 GiB chunk
                            b.setInt(r + 16, 0x7fffffff);
                        }
                    },
                    p -> "nbd://127.0.0.1:" + p + "/?connections=1&timeout=5&reconnect-timeout=10");
        }
    }

    @Test
    void lyingNfsServer() throws Exception {
        try (Ganesha ganesha = Ganesha.startStandalone()) {
            lie("nfs", ganesha.nfsPort(), Framing.rpcRecords(),
                    e -> e.direction() == Direction.TO_CLIENT && e.kind().equals("rpc-reply") && e.frame().length() > BLOCK / 2,
                    b -> b.setInt(b.readerIndex(), 0xffffffff), // last fragment of 2 GiB
                    p -> ganesha.url("lies.raw", p, "timeo=10&soft=1&retrans=2"));
        }
    }

    @Test
    void lyingIscsiTarget() throws Exception {
        Path backing = dir.resolve("lun.raw");
        try (RandomAccessFile f = new RandomAccessFile(backing.toFile(), "rw")) {
            f.setLength(DISK);
        }
        try (Tgtd tgtd = Tgtd.start(dir).targetWithLun(backing)) {
            lie("iscsi", tgtd.port(), Framing.iscsiPdus(),
                    e -> e.direction() == Direction.TO_CLIENT && e.kind().equals("iscsi-0x25"),
                    b -> b.setMedium(b.readerIndex() + 5, 0xffffff), // DataSegmentLength 16 MiB
                    tgtd::url);
        }
    }

    interface Url {
        String at(int port) throws Exception;
    }

    private void lie(String name, int serverPort, Framing framing, Predicate<FaultPolicy.FrameEvent> readReply,
                     LengthLie hugeLength, Url url) throws Exception {
        long seed = SafetyReport.seedFor("lying/" + name);
        SplittableRandom r = new SplittableRandom(seed);
        ScriptedPolicy script = new ScriptedPolicy();
        int rounds = Math.max(6, SafetyReport.trials() / 50);
        int errors = 0;
        int correct = 0;
        try (FaultProxy proxy = FaultProxy.to(serverPort).framing(framing).policy(script).start()) {
            String uri = url.at(proxy.port());
            BlockDevices devices = BlockDevices.loadDefault();
            try (BlockDevice dev = switch (name) {
                case "nfs" -> devices.create(DeviceUri.parse(uri), DISK, "raw");
                case "iscsi" -> {
                    // A reply cut inside its header leaves the initiator waiting for the rest: its NOP-Out
                    // keepalive (every 300 ms of silence, 1 s to answer) is what notices, rather than the
                    // default 5 + 10 s, and the session is reinstated.
                    IscsiUrl u = IscsiUrl.parse(DeviceUri.parse(uri));
                    yield IscsiBlockDevice.open(u, u.sessionConfig().withTimeouts(Duration.ofSeconds(30),
                            Duration.ofMillis(300), Duration.ofSeconds(1), Duration.ofSeconds(60)), false);
                }
                default -> devices.open(uri + (uri.contains("?") ? "&" : "?") + "format=raw");
            }) {
                byte[] data = new byte[BLOCK];
                r.nextBytes(data);
                ByteBuf w = Buffers.direct(BLOCK).writeBytes(data);
                dev.write(0, w, false).get(60, TimeUnit.SECONDS);
                dev.flush().get(60, TimeUnit.SECONDS);
                for (int i = 0; i < rounds; i++) {
                    Lie lie = Lie.values()[i % Lie.values().length];
                    UnaryOperator<ByteBuf> rewrite = switch (lie) {
                        case GARBAGE -> b -> {
                            byte[] junk = new byte[b.readableBytes()];
                            r.nextBytes(junk);
                            b.setBytes(b.readerIndex(), junk);
                            return b;
                        };
                        // Cut inside the message header: a reply cut inside its data would be completed by the
                        // next message's bytes, which no client of these protocols can tell from data (NFSv3 and
                        // NBD carry no checksums; iSCSI only with DataDigest).
                        case TRUNCATED -> b -> b.writerIndex(b.readerIndex() + 1 + r.nextInt(40));
                        case HUGE_LENGTH -> b -> {
                            hugeLength.apply(b);
                            return b;
                        };
                    };
                    script.once(readReply, FaultAction.replace(rewrite));
                    String outcome = readOnce(dev, data, name + " " + lie + " (seed " + seed + ")");
                    if (outcome == null) {
                        correct++;
                    } else {
                        errors++;
                    }
                    script.clear();
                    // Afterwards the device serves the right data again (reconnecting if it must).
                    String again = null;
                    for (int k = 0; k < 5; k++) {
                        again = readOnce(dev, data, name + " after " + lie);
                        if (again == null) {
                            break;
                        }
                    }
                    assertTrue(again == null, name + ": no correct read after a " + lie + " reply: " + again);
                }
            }
            System.out.println("[safety] lying " + name + " server: " + rounds + " lies (garbage, truncated, huge length): "
                    + errors + " clear errors, " + correct + " recovered reads with the right data, "
                    + proxy.faultsInjected() + " replies rewritten; no wrong data, no hang (seed " + seed + ")");
            assertTrue(proxy.faultsInjected() > 0, "no reply was ever rewritten: the lie predicate matched nothing");
        }
    }

    /** One read of the block: null when it returned exactly {@code expect}; the error's message otherwise. */
    private static String readOnce(BlockDevice dev, byte[] expect, String what) throws Exception {
        ByteBuf got;
        try {
            got = dev.read(0, expect.length).get(120, TimeUnit.SECONDS); // a hang fails here, with a timeout
        } catch (ExecutionException e) {
            Throwable cause = BlockDeviceException.unwrap(e);
            assertTrue(cause instanceof BlockDeviceException, what + ": not a BlockDeviceException: " + cause);
            assertFalse(cause.getMessage() == null || cause.getMessage().isBlank(), what + ": error without a message");
            return cause.getMessage();
        }
        try {
            assertArrayEquals(expect, ByteBufUtil.getBytes(got), what + ": a lying server's bytes came back as data");
            return null;
        } finally {
            got.release();
        }
    }
}
