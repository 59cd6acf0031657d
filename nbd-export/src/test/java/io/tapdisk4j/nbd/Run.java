package io.tapdisk4j.nbd;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a peer client program to completion, with a timeout, and returns its output. */
public final class Run {

    private Run() {
    }

    public record Result(int status, String output) {
        public Result ok() {
            if (status != 0) {
                throw new AssertionError("exit status " + status + ":\n" + output);
            }
            return this;
        }
    }

    public static Result exec(long timeoutSeconds, List<String> command) throws IOException, InterruptedException {
        File out = File.createTempFile("nbd-peer", ".log");
        try {
            ProcessBuilder pb = new ProcessBuilder(command);
            // The Debian peers' Python parts (nbdsh, python3-libnbd) live with the system interpreter: make sure
            // a python3 earlier on PATH (pyenv) does not shadow it.
            pb.environment().put("PATH", "/usr/bin:/bin:/usr/sbin:/sbin:" + pb.environment().getOrDefault("PATH", ""));
            Process p = pb.redirectErrorStream(true)
                    .redirectOutput(out).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                throw new AssertionError(command + " did not finish within " + timeoutSeconds + " s:\n"
                        + Files.readString(out.toPath(), StandardCharsets.UTF_8));
            }
            return new Result(p.exitValue(), Files.readString(out.toPath(), StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out.toPath());
        }
    }

    public static Result exec(List<String> command) throws IOException, InterruptedException {
        return exec(120, command);
    }

    public static Result ok(String... command) throws IOException, InterruptedException {
        return exec(List.of(command)).ok();
    }

    /**
     * An nbdsh script ({@code nbd} imported, {@code uri} set); it fails (non-zero status) on any uncaught
     * exception or failed assert.
     */
    public static Result libnbd(Path dir, String uri, String script) throws IOException, InterruptedException {
        String nbdsh = io.tapdisk4j.testsupport.Peers.require("nbdsh", "libnbd-bin python3-libnbd");
        Path f = Files.createTempFile(dir, "script", ".py");
        Files.writeString(f, "import nbd, errno\nuri = '" + uri + "'\n" + script);
        List<String> cmd = new ArrayList<>(List.of(nbdsh, "-c", "exec(open('" + f + "').read())"));
        return exec(cmd).ok();
    }
}
