package io.tapdisk4j.safety.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The suite's report: one {@link Tally} per backend and data path, written as a JSON array to
 * {@code safety-tests/target/safety-report.json} (system property {@code safety.report}) when the test
 * run ends. The run's seed comes from {@code -Dsafety.seed} (0 or absent: a fresh one, printed so that a
 * failure can be replayed); the trial count from {@code -Dsafety.trials}.
 */
public final class SafetyReport {

    private static final Map<String, Tally> ROWS = new ConcurrentSkipListMap<>();
    private static final long SEED = chooseSeed();
    private static final List<String> BACKENDS = List.of("file", "nbd", "nfs", "iscsi", "rbd");
    private static final List<String> PATHS = List.of("copy", "map-copy", "persistent", "unsafe-map");

    private SafetyReport() {
    }

    private static long chooseSeed() {
        long s = Long.getLong("safety.seed", 0L);
        if (s == 0) {
            s = new SecureRandom().nextLong() & Long.MAX_VALUE;
            if (s == 0) {
                s = 1;
            }
        }
        System.out.println("[safety] seed " + s + " (replay with -Dsafety.seed=" + s + ")");
        return s;
    }

    /** The run's seed; each scenario derives its own from it and its name. */
    public static long seed() {
        return SEED;
    }

    /** A seed for one scenario: stable for a given run seed and scenario name. */
    public static long seedFor(String scenario) {
        long h = SEED;
        for (int i = 0; i < scenario.length(); i++) {
            h = (h ^ scenario.charAt(i)) * 0x100000001b3L;
        }
        return h & Long.MAX_VALUE;
    }

    /** Trials per backend and data path ({@code -Dsafety.trials}, default 300). */
    public static int trials() {
        return Integer.getInteger("safety.trials", 300);
    }

    /**
     * Trials for one data path: {@code -Dsafety.trials.<path>} (for example {@code safety.trials.unsafe-map})
     * when set, else {@link #trials()}; a long run can go deep in {@code copy} and stay short elsewhere.
     */
    public static int trials(String dataPath) {
        String v = System.getProperty("safety.trials." + dataPath, "");
        return v.isBlank() ? trials() : Integer.parseInt(v.trim());
    }

    /** The row for {@code backend} ("file", "nbd", "nfs", "iscsi", "rbd") and {@code dataPath} ("copy", ...). */
    public static Tally tally(String backend, String dataPath) {
        if (!BACKENDS.contains(backend) || !PATHS.contains(dataPath)) {
            throw new IllegalArgumentException("report rows are " + BACKENDS + " x " + PATHS + ", not "
                    + backend + "/" + dataPath);
        }
        String key = BACKENDS.indexOf(backend) + "/" + PATHS.indexOf(dataPath);
        return ROWS.computeIfAbsent(key, k -> new Tally(backend, dataPath, seedFor(backend + "/" + dataPath)));
    }

    /** The rows that ran at least one trial. */
    public static List<Tally> rows() {
        List<Tally> out = new ArrayList<>();
        for (Tally t : ROWS.values()) {
            if (t.trials() > 0) {
                out.add(t);
            }
        }
        return out;
    }

    public static String json() {
        StringBuilder sb = new StringBuilder("[\n");
        List<Tally> rows = rows();
        for (int i = 0; i < rows.size(); i++) {
            sb.append("  ").append(rows.get(i).json()).append(i + 1 < rows.size() ? ",\n" : "\n");
        }
        return sb.append("]\n").toString();
    }

    public static String summary() {
        StringBuilder sb = new StringBuilder("[safety] report (run seed " + SEED + ")\n");
        for (Tally t : rows()) {
            sb.append("[safety]   ").append(t).append('\n');
            sb.append(t.scenarioLines("[safety]     "));
        }
        return sb.toString();
    }

    /** Writes the JSON to {@code path} (creating its directory). */
    public static void write(Path path) throws IOException {
        Files.createDirectories(path.toAbsolutePath().getParent());
        Files.writeString(path, json());
    }

    /** Where the report goes: {@code -Dsafety.report}, else target/safety-report.json. */
    public static Path path() {
        return Path.of(System.getProperty("safety.report", "target/safety-report.json"));
    }
}
