package io.tapdisk4j.ring.xen;

import io.tapdisk4j.testsupport.Peers;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Builds the C programs under src/test/c with gcc against the real Xen headers. A missing compiler or
 * header fails the test naming the Debian package (tests never skip).
 */
public final class CPrograms {

    /** Headers the C programs include, and the package each comes from. */
    private static final String[][] HEADERS = {
            {"/usr/include/xen/io/blkif.h", "libxen-dev"},
            {"/usr/include/xen/io/ring.h", "libxen-dev"},
            {"/usr/include/xen/grant_table.h", "libxen-dev"},
            {"/usr/include/xen/event_channel.h", "libxen-dev"},
            {"/usr/include/xen/io/xs_wire.h", "libxen-dev"},
            {"/usr/include/xen/io/xenbus.h", "libxen-dev"},
            {"/usr/include/xen/gntdev.h", "linux-libc-dev"},
            {"/usr/include/xen/evtchn.h", "linux-libc-dev"},
            {"/usr/include/xenstore.h", "libxen-dev"},
            {"/usr/lib/x86_64-linux-gnu/libxenstore.so", "libxen-dev"},
    };

    private CPrograms() {
    }

    /** src/test/c of the ring-server module (surefire runs tests from the module directory). */
    public static Path sourceDir() {
        Path dir = Path.of("src/test/c").toAbsolutePath();
        if (!Files.isDirectory(dir)) {
            throw new AssertionError("C test sources not found at " + dir + " (run the test from the ring-server module)");
        }
        return dir;
    }

    public static String gcc() {
        String gcc = Peers.require("gcc", "gcc");
        for (String[] h : HEADERS) {
            Peers.requireFile(h[0], h[1]);
        }
        return gcc;
    }

    /**
     * Compiles {@code source} (in src/test/c) with {@code args} into {@code out}; fails with gcc's messages.
     * Libraries ({@code -l...}) go after the source, where the linker needs them.
     */
    public static Path compile(Path out, String source, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(gcc(), "-std=gnu11", "-O1", "-Wall", "-Wextra", "-Werror",
                "-I", sourceDir().toString()));
        List<String> libs = new ArrayList<>();
        for (String a : args) {
            (a.startsWith("-l") ? libs : cmd).add(a);
        }
        cmd.addAll(List.of("-o", out.toString(), sourceDir().resolve(source).toString()));
        cmd.addAll(libs);
        Result r = run(cmd, 60);
        if (r.exit != 0) {
            throw new AssertionError("gcc failed on " + source + " (exit " + r.exit + "):\n" + r.output);
        }
        return out;
    }

    /** Runs a command to completion (stdout and stderr merged); fails if it outlives {@code timeoutSeconds}. */
    public static Result run(List<String> cmd, int timeoutSeconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out;
        try (var in = p.getInputStream()) {
            out = in.readAllBytes();
        }
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(cmd.getFirst() + " did not finish in " + timeoutSeconds + " s");
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    public record Result(int exit, String output) {
    }
}
