package io.tapdisk4j.vhd;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a peer program to completion and keeps its output. */
public record Cmd(int exit, String output) {

    public static Cmd run(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + cmd);
        }
        return new Cmd(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    public Cmd ok() {
        if (exit != 0) {
            throw new AssertionError("exit " + exit + ": " + output);
        }
        return this;
    }
}
