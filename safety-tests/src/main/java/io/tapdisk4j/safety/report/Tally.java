package io.tapdisk4j.safety.report;

import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;

/** Counters of one report row (one backend, one data path); safe to update from any thread. */
public final class Tally {

    private final String backend;
    private final String dataPath;
    private final long seed;
    private final AtomicLong trials = new AtomicLong();
    private final AtomicLong faultsInjected = new AtomicLong();
    private final AtomicLong corruptions = new AtomicLong();
    private final AtomicLong useAfterUnmap = new AtomicLong();
    private final AtomicLong bytesVerified = new AtomicLong();
    private final Map<String, ScenarioTally> scenarios = new ConcurrentSkipListMap<>();

    Tally(String backend, String dataPath, long seed) {
        this.backend = backend;
        this.dataPath = dataPath;
        this.seed = seed;
    }

    public String backend() {
        return backend;
    }

    public String dataPath() {
        return dataPath;
    }

    public long seed() {
        return seed;
    }

    public void trial() {
        trials.incrementAndGet();
    }

    public void faults(long n) {
        faultsInjected.addAndGet(n);
    }

    public void corruption() {
        corruptions.incrementAndGet();
    }

    public void useAfterUnmap() {
        useAfterUnmap.incrementAndGet();
    }

    public void verified(long bytes) {
        bytesVerified.addAndGet(bytes);
    }

    public long trials() {
        return trials.get();
    }

    public long faultsInjected() {
        return faultsInjected.get();
    }

    public long corruptions() {
        return corruptions.get();
    }

    public long useAfterUnmapCount() {
        return useAfterUnmap.get();
    }

    public long bytesVerified() {
        return bytesVerified.get();
    }

    /** The counters of one named scenario in this row (reported under "scenarios" once it ran a trial). */
    public ScenarioTally scenario(String name) {
        return scenarios.computeIfAbsent(name, k -> new ScenarioTally());
    }

    /** True when this row saw the race: a corruption or a use after unmap. */
    public boolean sawRace() {
        return corruptions() > 0 || useAfterUnmapCount() > 0;
    }

    String json() {
        return "{\"backend\": \"" + backend + "\", \"dataPath\": \"" + dataPath + "\", \"trials\": " + trials()
                + ", \"faultsInjected\": " + faultsInjected() + ", \"corruptions\": " + corruptions()
                + ", \"useAfterUnmap\": " + useAfterUnmapCount() + ", \"bytesVerified\": " + bytesVerified()
                + ", \"seed\": " + seed + scenariosJson() + "}";
    }

    private String scenariosJson() {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, ScenarioTally> e : scenarios.entrySet()) {
            if (e.getValue().trials() == 0) {
                continue;
            }
            sb.append(sb.isEmpty() ? ", \"scenarios\": {" : ", ").append('"').append(ScenarioTally.escape(e.getKey()))
                    .append("\": ").append(e.getValue().json());
        }
        return sb.isEmpty() ? "" : sb.append('}').toString();
    }

    /** One line per scenario that ran, for the printed summary. */
    public String scenarioLines(String indent) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, ScenarioTally> e : scenarios.entrySet()) {
            ScenarioTally s = e.getValue();
            if (s.trials() == 0) {
                continue;
            }
            sb.append(indent).append(e.getKey()).append(": ").append(s).append('\n');
            if (s.note() != null) {
                sb.append(indent).append("  ").append(s.note()).append('\n');
            }
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return String.format("%-6s %-11s trials=%-7d faults=%-7d corruptions=%-6d useAfterUnmap=%-6d verified=%d bytes",
                backend, dataPath, trials(), faultsInjected(), corruptions(), useAfterUnmapCount(), bytesVerified());
    }
}
