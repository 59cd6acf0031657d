package io.tapdisk4j.ring.bench;

import io.tapdisk4j.ring.backend.DataPath;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One benchmark point in a JVM of its own. Points run one after another in one JVM measure each data path
 * with the JIT's profile of the paths before it (the copy path at 64 KiB lost a third that way); a daemon
 * serves its devices' paths from its start, so each point gets a fresh JVM with the parent's settings.
 */
public final class RingBenchmarkPoint {

    private static final String RESULT = "ring-point-result ";

    private RingBenchmarkPoint() {
    }

    /** Runs {@code o} in a child JVM (same java, class path and JVM options) and returns its result. */
    public static RingBenchmark.Result runIsolated(RingBenchmark.Options o) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(RingBenchmarkPoint.class.getName());
        cmd.addAll(List.of(o.deviceUri(), String.valueOf(o.guests()), String.valueOf(o.queues()),
                String.valueOf(o.blockSize()), o.mode().cliName(), String.valueOf(o.write()), String.valueOf(o.seconds()),
                String.valueOf(o.depth()), String.valueOf(o.ringOrder()), String.valueOf(o.guestMemory())));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String result = null;
        StringBuilder log = new StringBuilder();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith(RESULT)) {
                    result = line.substring(RESULT.length());
                } else if (log.length() < 8192) {
                    log.append(line).append('\n');
                }
            }
        }
        int exit = p.waitFor();
        if (result == null) {
            throw new IOException("benchmark point " + o + " exited with " + exit + " and no result:\n" + log);
        }
        String[] f = result.split(" ");
        return new RingBenchmark.Result(o, Long.parseLong(f[0]), Long.parseLong(f[1]), Double.parseDouble(f[2]),
                Long.parseLong(f[3]), Double.parseDouble(f[4]), Long.parseLong(f[5]));
    }

    public static void main(String[] a) throws Exception {
        RingBenchmark.Options o = new RingBenchmark.Options(a[0], Integer.parseInt(a[1]), Integer.parseInt(a[2]),
                Integer.parseInt(a[3]), DataPath.parse(a[4]), Boolean.parseBoolean(a[5]), Double.parseDouble(a[6]),
                Integer.parseInt(a[7]), Integer.parseInt(a[8]), Long.parseLong(a[9]));
        RingBenchmark.Result r = RingBenchmark.run(o, null);
        System.out.println(RESULT + String.format(Locale.ROOT, "%d %d %.9f %d %.1f %d", r.requests(), r.bytes(),
                r.seconds(), r.errors(), r.memcpyBytesPerSecond(), r.completedTotal()));
        System.out.flush();
        System.exit(0);
    }
}
