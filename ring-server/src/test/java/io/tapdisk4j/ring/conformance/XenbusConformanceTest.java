package io.tapdisk4j.ring.conformance;

import io.tapdisk4j.ring.hv.sim.SimHypervisor;
import io.tapdisk4j.ring.sim.xenstored.SimXenstored;
import io.tapdisk4j.ring.xen.CPrograms;
import io.tapdisk4j.ring.xenbus.Tapback;
import io.tapdisk4j.ring.xenbus.TapbackOptions;
import io.tapdisk4j.ring.xenbus.Toolstack;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenstore.XsClient;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The same C blkfront, now attached the way a guest really attaches: a toolstack creates the vbd3 device in
 * the simulated xenstored, tapback picks it up, and the C program does blkfront's xenbus handshake with
 * Xen's own libxenstore (XENSTORED_PATH) before running every case, then closes the device.
 */
class XenbusConformanceTest {

    private static final int DOMID = 4;
    private static final int DEVID = 51712;
    private static final long DEVICE_BYTES = 1 << 20;
    private static final long SECTORS = DEVICE_BYTES / 512;

    @TempDir
    static Path build;
    private static Path x86_64;
    private static Path x86_32;

    @TempDir
    Path tmp;

    @BeforeAll
    static void compile() throws Exception {
        x86_64 = CPrograms.compile(build.resolve("blkfront_conformance"), "blkfront_conformance.c", "-lxenstore");
        x86_32 = CPrograms.compile(build.resolve("blkfront_conformance_x86_32"), "blkfront_conformance.c",
                "-DABI_X86_32", "-lxenstore");
    }

    /** A frontend that publishes req_prod more than a ring ahead loses its device, as blkback does it. */
    @Test
    void overrunningFrontendIsShutDownWithAnErrorNode() throws Exception {
        Path sim = Files.createDirectories(tmp.resolve("sim"));
        Path disk = tmp.resolve("disk.raw");
        try (var f = java.nio.channels.FileChannel.open(disk, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            f.write(java.nio.ByteBuffer.allocate(1), DEVICE_BYTES - 1);
        }
        List<String> lines = new ArrayList<>();
        Process guest = null;
        try (SimXenstored xenstored = SimXenstored.start(sim.resolve("xenstored.sock"));
             SimHypervisor hv = new SimHypervisor(sim);
             XsClient xs = XsClient.connect(xenstored.socket());
             Tapback tapback = Tapback.start(xs, TapbackOptions.defaults(hv))) {
            VbdId id = new VbdId(DOMID, DEVID);
            Toolstack.createVbd(xs, id, "file://" + disk, false);
            ProcessBuilder pb = new ProcessBuilder(x86_64.toString(), sim.toString(), Integer.toString(DOMID),
                    Long.toString(SECTORS), "0", "xenstore:" + DEVID).redirectError(ProcessBuilder.Redirect.INHERIT);
            pb.environment().put("XENSTORED_PATH", xenstored.socket().toString());
            pb.environment().put("OVERRUN", "1");
            guest = pb.start();
            guest.getOutputStream().close();
            collect(guest, lines);
            assertTrue(guest.waitFor(30, TimeUnit.SECONDS), "the C guest did not exit");
            // Removal: the toolstack deletes the device's directories and the backend lets the device go.
            java.util.concurrent.CountDownLatch removed = new java.util.concurrent.CountDownLatch(1);
            tapback.addListener(info -> {
                if (info.id().equals(id) && "removed".equals(info.phase())) {
                    removed.countDown();
                }
            });
            Toolstack.removeVbd(xs, id);
            assertTrue(removed.await(30, TimeUnit.SECONDS), "removing the VBD releases the device");
            assertTrue(tapback.device(DOMID, DEVID).isEmpty(), "no device left after removal");
        } finally {
            if (guest != null) {
                guest.destroyForcibly();
            }
        }
        String transcript = String.join("\n", lines);
        assertTrue(lines.contains("ok write_read_page"), transcript);
        assertTrue(lines.contains("ok ring_overrun_shuts_device_down"), transcript);
        String error = lines.stream().filter(l -> l.startsWith("backend error=")).findFirst().orElse("");
        assertTrue(error.length() > "backend error=".length() && !error.endsWith("(absent)"),
                "the backend explains the shutdown in its error node; transcript:\n" + transcript);
        assertEquals(0, guest.exitValue(), transcript);
    }

    private static void collect(Process guest, List<String> lines) throws Exception {
        BufferedReader out = new BufferedReader(new InputStreamReader(guest.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture.runAsync(() -> {
            try {
                for (String line; (line = out.readLine()) != null; ) {
                    lines.add(line);
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }).get(120, TimeUnit.SECONDS);
    }

    @ParameterizedTest(name = "{0}, ring page order {1}, {2} queue(s), reconnect {3}")
    @CsvSource({"x86_64-abi, 0, 1, false", "x86_64-abi, 3, 1, false", "x86_32-abi, 1, 1, true",
            "x86_64-abi, 2, 2, true"})
    void cFrontendConnectsThroughXenstoreAndPassesEveryCase(String protocol, int order, int queues, boolean reconnect)
            throws Exception {
        Path exe = protocol.equals("x86_32-abi") ? x86_32 : x86_64;
        Path sim = Files.createDirectories(tmp.resolve("sim"));
        Path disk = tmp.resolve("disk.raw");
        try (var f = java.nio.channels.FileChannel.open(disk, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            f.write(java.nio.ByteBuffer.allocate(1), DEVICE_BYTES - 1);
        }
        List<String> lines = new ArrayList<>();
        Process guest = null;
        try (SimXenstored xenstored = SimXenstored.start(sim.resolve("xenstored.sock"));
             SimHypervisor hv = new SimHypervisor(sim);
             XsClient xs = XsClient.connect(xenstored.socket());
             Tapback tapback = Tapback.start(xs, TapbackOptions.defaults(hv))) {
            VbdId id = new VbdId(DOMID, DEVID);
            Toolstack.createVbd(xs, id, "file://" + disk, false);

            ProcessBuilder pb = new ProcessBuilder(exe.toString(), sim.toString(), Integer.toString(DOMID),
                    Long.toString(SECTORS), Integer.toString(order), "xenstore:" + DEVID)
                    .redirectError(ProcessBuilder.Redirect.INHERIT);
            pb.environment().put("XENSTORED_PATH", xenstored.socket().toString());
            pb.environment().put("QUEUES", Integer.toString(queues));
            pb.environment().put("RECONNECT", reconnect ? "1" : "0");
            guest = pb.start();
            guest.getOutputStream().close();
            collect(guest, lines);
            assertTrue(guest.waitFor(30, TimeUnit.SECONDS), "the C guest did not exit");
            // Removal: the toolstack deletes the device's directories and the backend lets the device go.
            java.util.concurrent.CountDownLatch removed = new java.util.concurrent.CountDownLatch(1);
            tapback.addListener(info -> {
                if (info.id().equals(id) && "removed".equals(info.phase())) {
                    removed.countDown();
                }
            });
            Toolstack.removeVbd(xs, id);
            assertTrue(removed.await(30, TimeUnit.SECONDS), "removing the VBD releases the device");
            assertTrue(tapback.device(DOMID, DEVID).isEmpty(), "no device left after removal");
        } finally {
            if (guest != null) {
                guest.destroyForcibly();
            }
        }

        String transcript = String.join("\n", lines);
        Map<String, String> backend = new LinkedHashMap<>();
        List<String> failures = new ArrayList<>();
        int ok = 0;
        for (String line : lines) {
            if (line.startsWith("backend ") && line.contains("=")) {
                String kv = line.substring(8);
                backend.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
            } else if (line.startsWith("ok ")) {
                ok++;
            } else if (line.startsWith("fail ") || line.startsWith("fatal ")) {
                failures.add(line);
            }
        }
        assertEquals(List.of(), failures, "C frontend transcript:\n" + transcript);
        // Every case of the hook-attached run, plus the connect geometry check and the close handshake
        // (and the second queue's write/read).
        // A reconnect adds its own geometry check, the read-back through the new rings and a second close.
        assertEquals(XenConformanceTest.CASES.size() + 2 + (queues > 1 ? 1 : 0) + (reconnect ? 3 : 0), ok,
                "cases passed; transcript:\n" + transcript);
        assertEquals(reconnect, lines.contains("ok reconnect_after_close"), transcript);
        if (queues > 1) {
            assertTrue(lines.contains("ok queue1_write_read"), transcript);
            assertTrue(Integer.parseInt(backend.get("multi-queue-max-queues")) >= queues, transcript);
        }
        assertEquals("summary " + ok + " 0", lines.getLast());
        assertEquals(0, guest.exitValue(), transcript);

        // What the backend advertised, read by the guest through xenstore.
        assertTrue(Integer.parseInt(backend.get("max-ring-page-order")) >= 4, transcript);
        assertTrue(Integer.parseInt(backend.get("feature-max-indirect-segments")) >= 256, transcript);
        assertEquals("1", backend.get("feature-flush-cache"), transcript);
        assertEquals("1", backend.get("feature-discard"), "a file device discards; transcript:\n" + transcript);
        assertEquals(Long.toString(SECTORS), backend.get("sectors"), transcript);
        assertEquals("512", backend.get("sector-size"), transcript);
        assertEquals("0", backend.get("info"), "a writable disk; transcript:\n" + transcript);

        java.util.regex.Matcher hello = XenConformanceTest.HELLO.matcher(lines.getFirst());
        assertTrue(hello.matches(), lines.getFirst());
        assertEquals(protocol, hello.group(3));
        XenConformanceTest.assertDiskHoldsExactlyWhatTheGoodRequestsWrote(disk, Integer.parseInt(hello.group(4)), true,
                queues > 1);
    }
}
