package io.tapdisk4j.xenlab;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** One run of scripts/xen-lab and its result lines ({@code LAB-RESULT name PASS|FAIL detail}). */
record LabRun(Path out, List<String> lines, boolean ended) {

    record Result(String name, boolean passed, String detail) {
    }

    /** Runs the lab (its own deadline is {@code deadlineSeconds}); stops it by pid if it overruns that. */
    static LabRun run(Path root, Path out, int deadlineSeconds, List<String> only) throws IOException, InterruptedException {
        Files.createDirectories(out);
        Path log = out.resolve("xen-lab.log");
        List<String> command = new ArrayList<>(List.of(root.resolve("scripts/xen-lab").toString(), "--out",
                out.toString(), "--deadline", Integer.toString(deadlineSeconds)));
        if (!only.isEmpty()) {
            command.addAll(List.of("--only", String.join(",", only)));
        }
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(deadlineSeconds + 600L, TimeUnit.SECONDS)) {
            stop(p.toHandle());
            p.waitFor(30, TimeUnit.SECONDS);
        }
        return read(out, log);
    }

    /**
     * Waits for a lab that scripts/test-all started beside the Maven build (its pid in {@code out/pid}) to end,
     * at most {@code waitSeconds}, then reads its results; stops it by pid if it overruns.
     */
    static LabRun awaitStarted(Path out, int waitSeconds) throws IOException, InterruptedException {
        Path log = out.resolve("xen-lab.log");
        long pid = Long.parseLong(Files.readString(out.resolve("pid")).trim());
        ProcessHandle lab = ProcessHandle.of(pid).orElse(null);
        if (lab != null) {
            try {
                lab.onExit().get(waitSeconds, TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                stop(lab);
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IOException(e.getCause());
            }
        }
        return read(out, log);
    }

    /** Stops an overrunning lab by pid: its QEMU and dom0 build first, then the script. */
    private static void stop(ProcessHandle lab) {
        lab.descendants().forEach(ProcessHandle::destroy);
        lab.destroy();
    }

    private static LabRun read(Path out, Path log) throws IOException {
        Path results = out.resolve("results.txt");
        List<String> lines = Files.exists(results) ? Files.readAllLines(results, StandardCharsets.UTF_8)
                : Files.readAllLines(log, StandardCharsets.UTF_8);
        return new LabRun(out, lines, lines.stream().anyMatch(l -> l.startsWith("XENLAB-END")));
    }

    List<Result> results(String name) {
        List<Result> r = new ArrayList<>();
        for (String l : lines) {
            String[] w = l.split(" ", 4);
            if (w.length >= 3 && w[0].equals("LAB-RESULT") && w[1].equals(name)) {
                r.add(new Result(name, w[2].equals("PASS"), w.length > 3 ? w[3] : ""));
            }
        }
        return r;
    }

    boolean anyFailure() {
        return !failures().isEmpty();
    }

    List<String> failures() {
        return lines.stream().filter(l -> l.startsWith("LAB-RESULT ") && l.split(" ")[2].equals("FAIL")).toList();
    }

    /** The lines about one scenario's guest, for a failure message. */
    String context(String name) {
        StringBuilder b = new StringBuilder();
        for (String l : lines) {
            if (l.contains(" " + name + ":") || l.contains(" " + name + " ")) {
                b.append(l).append('\n');
            }
        }
        return b.toString();
    }

    Path serialLog() {
        return out.resolve("serial.log");
    }

    String tail() {
        int from = Math.max(0, lines.size() - 40);
        return String.join("\n", lines.subList(from, lines.size()));
    }
}
