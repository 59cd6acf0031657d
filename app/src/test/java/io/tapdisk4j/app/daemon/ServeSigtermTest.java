package io.tapdisk4j.app.daemon;

import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.sim.xenstored.SimXenstored;
import io.tapdisk4j.ring.xenbus.BlkfrontXenbus;
import io.tapdisk4j.ring.xenbus.Toolstack;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenbus.XenbusState;
import io.tapdisk4j.ring.xenstore.XsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code tapdisk4j serve --sim DIR} as its own process: a guest attaches, SIGTERM drains and closes it. */
class ServeSigtermTest {

    @TempDir
    Path dir;

    @Test
    void sigtermDrainsEveryDeviceAndLeavesItClosed() throws Exception {
        Path sim = Files.createDirectories(dir.resolve("sim"));
        Path disk = dir.resolve("disk.raw");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(4 << 20);
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), "io.tapdisk4j.app.Main", "serve", "--sim", sim.toString());
        // Our xenstored outlives the daemon, so the state it left behind can be read.
        try (SimXenstored xenstored = SimXenstored.start(sim.resolve("xenstored.sock"))) {
            Process serve = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            List<String> output = new ArrayList<>();
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(serve.getInputStream(),
                        StandardCharsets.UTF_8));
                CompletableFuture<Void> ready = CompletableFuture.runAsync(() -> {
                    try {
                        String line;
                        while ((line = out.readLine()) != null) {
                            synchronized (output) {
                                output.add(line);
                            }
                            if (line.startsWith("tapdisk4j serving")) {
                                return;
                            }
                        }
                    } catch (java.io.IOException ignored) {
                        // the process died: reported below
                    }
                    throw new IllegalStateException("serve exited");
                });
                ready.get(60, TimeUnit.SECONDS);
                VbdId id = new VbdId(3, 51712);
                try (XsClient xs = XsClient.connect(xenstored.socket());
                     SimGuest guest = SimGuest.create(sim, 3, 512, 2048)) {
                    Toolstack.createVbd(xs, id, "file://" + disk, false);
                    try (BlkfrontXenbus front = BlkfrontXenbus.connect(xs, guest, id, FrontendOptions.defaults(),
                            Duration.ofSeconds(30)); GuestBuffer b = front.emulator().allocateBuffer(1)) {
                        b.put(0, new byte[]{7});
                        assertTrue(front.emulator().write(0, 0, b, 0, 4096).get(10, TimeUnit.SECONDS).ok());
                        serve.destroy(); // SIGTERM
                        assertTrue(serve.waitFor(60, TimeUnit.SECONDS), "serve did not stop on SIGTERM");
                        assertEquals(XenbusState.CLOSED, front.backendState());
                    }
                }
                String log;
                synchronized (output) {
                    log = String.join("\n", output);
                }
                assertEquals(7, Files.readAllBytes(disk)[0], log);
            } finally {
                serve.destroyForcibly();
            }
        }
    }
}
