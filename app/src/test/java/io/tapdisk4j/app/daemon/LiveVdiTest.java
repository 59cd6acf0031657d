package io.tapdisk4j.app.daemon;

import io.tapdisk4j.app.Main;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.vhd.VdiInfo;
import io.tapdisk4j.vhd.VdiOperations;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Snapshot and coalesce of an image a guest is using, through the daemon (issue 19): a pause closes the
 * image chain and a resume opens what the URI names then, so nothing the guest writes lands in a frozen
 * parent; the online coalesce keeps the guest writing. Every step is checked against a model of the disk.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class LiveVdiTest {

    private static final int DISK = 8 << 20;

    @TempDir
    Path dir;

    private String image() throws Exception {
        Path sr = Files.createDirectories(dir.resolve("sr"));
        String uri = "file://" + sr.resolve("disk.vhd");
        new VdiOperations().create(uri, 64 << 20, "vhd", false);
        return uri;
    }

    private static long allocated(String uri) throws Exception {
        return new VdiOperations().info(uri).allocated();
    }

    @Test
    void pauseOfflineSnapshotResumeWritesIntoTheNewChildNotTheFrozenParent() throws Exception {
        String uri = image();
        try (LiveGuest g = new LiveGuest(dir.resolve("sim"), uri, DISK)) {
            for (int i = 0; i < 8; i++) {
                g.write(i, i);
            }
            assertTrue(g.ctl("pause 7/51712").ok());
            CompletableFuture<Boolean> queued = g.submitWrite(20, 99); // waits on the ring
            assertEquals(0, Main.run("vdi", "snapshot", uri), "snapshot of a paused, closed image");
            assertFalse(queued.isDone(), "a request queued while paused waits for resume");
            assertTrue(g.ctl("list").body().contains("paused"));
            ControlResponse r = g.ctl("resume 7/51712");
            assertTrue(r.ok(), r.body());
            assertTrue(queued.get(30, TimeUnit.SECONDS), "the queued write completes after resume");
            VdiInfo child = new VdiOperations().info(uri);
            String parent = child.parent();
            assertTrue(parent != null && parent.contains(".snap-"), child.toText());
            long frozen = allocated(parent);
            Path frozenFile = Path.of(java.net.URI.create(parent).getPath());
            byte[] frozenBytes = Files.readAllBytes(frozenFile);

            // The case: a 1 MiB write through the VBD's NBD export after resume.
            ControlResponse export = g.ctl("export 7/51712 0 rw");
            assertTrue(export.ok(), export.body());
            String nbd = export.body().trim();
            Process p = new ProcessBuilder(Peers.require("qemu-io", "qemu-utils"), "-f", "raw", "-c",
                    "write -P 0x5a 1M 1M", nbd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), out);
            assertTrue(g.ctl("unexport 7/51712").ok());
            java.util.Arrays.fill(g.model, 1 << 20, 2 << 20, (byte) 0x5a);
            g.write(30, 30);
            g.verify("after snapshot and resume");
            assertTrue(allocated(uri) > 0, "the new child holds the writes");
            assertEquals(frozen, allocated(parent), "the frozen parent got nothing");
            assertTrue(java.util.Arrays.equals(frozenBytes, Files.readAllBytes(frozenFile)),
                    "the frozen parent's file did not change by a byte");
        }
    }

    @Test
    void ctlSnapshotAndResumeWithAnotherUri() throws Exception {
        String uri = image();
        try (LiveGuest g = new LiveGuest(dir.resolve("sim"), uri, DISK)) {
            g.write(3, 3);
            ControlResponse r = g.ctl("snapshot 7/51712");
            assertTrue(r.ok(), r.body());
            String parent = new VdiOperations().info(uri).parent();
            assertTrue(r.body().contains(parent), r.body());
            g.write(4, 4);
            g.verify("after ctl snapshot");
            assertEquals(new VdiOperations().info(parent).allocated(), 2 << 20, "one 2 MiB block, frozen");

            // A relink (tap-ctl unpause -a): a clone of the frozen parent replaces the image.
            String clone = "file://" + dir.resolve("sr/other.vhd");
            assertTrue(g.ctl("pause 7/51712").ok());
            assertEquals(0, Main.run("vdi", "clone", parent, clone));
            ControlResponse bad = g.ctl("resume 7/51712 --uri file://" + dir.resolve("sr/missing.vhd"));
            assertFalse(bad.ok(), bad.body());
            assertTrue(bad.body().contains("still paused"), bad.body());
            r = g.ctl("resume 7/51712 --uri " + clone);
            assertTrue(r.ok(), r.body());
            assertTrue(g.ctl("list").body().contains("other.vhd"));
            synchronized (g.model) {
                java.util.Arrays.fill(g.model, 4 * LiveGuest.BLOCK, 5 * LiveGuest.BLOCK, (byte) 0); // not in the clone
            }
            g.verify("after the relink");
        }
    }

    @Test
    void onlineCoalesceKeepsTheGuestWritingAndLosesNothing() throws Exception {
        String uri = image();
        try (LiveGuest g = new LiveGuest(dir.resolve("sim"), uri, DISK)) {
            int blocks = DISK / LiveGuest.BLOCK;
            for (int i = 0; i < blocks; i += 3) {
                g.write(i, 1000 + i);
            }
            assertTrue(g.ctl("snapshot 7/51712").ok());
            String base = new VdiOperations().info(uri).parent();
            for (int i = 1; i < blocks; i += 5) {
                g.write(i, 2000 + i);
            }
            g.verify("before the coalesce");

            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger written = new AtomicInteger();
            AtomicReference<Throwable> failed = new AtomicReference<>();
            Thread writer = Thread.ofPlatform().name("guest-writer").start(() -> {
                java.util.Random rnd = new java.util.Random(7);
                try {
                    while (!stop.get()) {
                        int b = rnd.nextInt(blocks);
                        if (!g.submitWrite(b, rnd.nextLong()).get(60, TimeUnit.SECONDS)) {
                            throw new AssertionError("guest write failed during the coalesce");
                        }
                        written.incrementAndGet();
                    }
                } catch (Throwable t) {
                    failed.set(t);
                }
            });
            ControlResponse r;
            int before;
            try {
                before = written.get();
                r = g.ctl("coalesce 7/51712");
            } finally {
                int during = written.get();
                stop.set(true);
                writer.join(60_000);
                assertNull(failed.get(), () -> String.valueOf(failed.get()));
                assertTrue(during > 0, "the guest wrote while the coalesce ran");
            }
            assertTrue(r.ok(), r.body());
            assertTrue(written.get() > before, "the guest kept writing");
            g.verify("after the online coalesce");
            VdiInfo info = new VdiOperations().info(uri);
            assertNull(info.parent(), "the merged base took the leaf's place: " + info.toText());
            assertFalse(Files.exists(Path.of(java.net.URI.create(base).getPath())), "the base moved to the leaf's name");
            try (var files = Files.list(dir.resolve("sr"))) {
                assertEquals(List.of("disk.vhd"), files.map(f -> f.getFileName().toString()).toList(),
                        "no intermediate image left behind");
            }
            // A second round on the coalesced image, and QEMU agrees with the model byte for byte.
            g.write(5, 5);
            g.verify("writing after the coalesce");
            Path raw = dir.resolve("model.raw");
            synchronized (g.model) {
                Files.write(raw, g.model);
            }
            Path leaf = dir.resolve("sr/disk.vhd");
            assertTrue(g.ctl("pause 7/51712").ok());
            try {
                Process p = new ProcessBuilder(Peers.require("qemu-img", "qemu-utils"), "compare", "-f", "vpc",
                        "-F", "raw", leaf.toString(), raw.toString()).redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertTrue(p.waitFor(60, TimeUnit.SECONDS));
                // qemu-img compare treats the tail beyond the shorter image as zeroes (exit 0) or reports it.
                assertEquals(0, p.exitValue(), out);
            } finally {
                assertTrue(g.ctl("resume 7/51712").ok());
            }
        }
    }

    @Test
    void anOfflineSnapshotOfAServedImageIsRefusedAndPointsToCtlSnapshot() throws Exception {
        String uri = image();
        try (LiveGuest g = new LiveGuest(dir.resolve("sim"), uri, DISK)) {
            g.write(0, 1);
            java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
            java.io.PrintStream original = System.err;
            int status;
            System.setErr(new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
            try {
                status = Main.run("vdi", "snapshot", uri);
            } finally {
                System.setErr(original);
            }
            String text = err.toString(java.nio.charset.StandardCharsets.UTF_8);
            assertEquals(1, status, text);
            assertTrue(text.contains("already open for writing by pid " + ProcessHandle.current().pid())
                    && text.contains("ctl snapshot"), text);
            try (var files = Files.list(dir.resolve("sr"))) {
                assertEquals(List.of("disk.vhd"), files.map(f -> f.getFileName().toString()).toList());
            }
            g.write(1, 2);
            g.verify("after the refused snapshot");
        }
    }

    @Test
    void ctlCoalesceRefusesWhenTheParentHasAnotherChild() throws Exception {
        String uri = image();
        try (LiveGuest g = new LiveGuest(dir.resolve("sim"), uri, DISK)) {
            g.write(0, 1);
            assertTrue(g.ctl("snapshot 7/51712").ok());
            String base = new VdiOperations().info(uri).parent();
            Main.run("vdi", "clone", base, "file://" + dir.resolve("sr/clone.vhd"));
            ControlResponse r = g.ctl("coalesce 7/51712");
            assertFalse(r.ok(), r.body());
            assertTrue(r.body().contains("clone.vhd"), r.body());
            g.write(1, 2);
            g.verify("after the refused coalesce");
        }
    }
}
