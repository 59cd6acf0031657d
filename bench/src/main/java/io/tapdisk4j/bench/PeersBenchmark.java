package io.tapdisk4j.bench;

import io.tapdisk4j.iscsi.bench.IscsiPerfComparison;
import io.tapdisk4j.nbd.bench.NbdPeerBenchmark;
import io.tapdisk4j.nfs.bench.NfsBenchmark;
import io.tapdisk4j.testsupport.PeerFigure;
import io.tapdisk4j.vhd.VhdWriteBenchmark;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code tapdisk4j bench peers}: every comparison with a real peer, side by side in one run, ending in one
 * table of ratios. A peer that is not installed is named (with its Debian package) and its comparison
 * skipped; the others still run.
 */
public final class PeersBenchmark {

    /** One comparison: its name and how to run it. */
    interface Comparison {
        List<PeerFigure> run(Path dir) throws Exception;
    }

    private PeersBenchmark() {
    }

    public static List<PeerFigure> run(Path dir, List<String> only, PrintStream out) throws Exception {
        Map<String, Comparison> all = new LinkedHashMap<>();
        all.put("nbd", d -> NbdPeerBenchmark.run(d.resolve("nbd")));
        all.put("nfs", d -> NfsBenchmark.run());
        all.put("iscsi", d -> IscsiPerfComparison.run(5, 512, 5));
        all.put("vhd", PeersBenchmark::vhdFirstWrite);
        all.put("qcow2", d -> Qcow2NbdBenchmark.run(d.resolve("qcow2")));
        List<PeerFigure> figures = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        Files.createDirectories(dir);
        for (var e : all.entrySet()) {
            if (!only.isEmpty() && !only.contains(e.getKey())) {
                continue;
            }
            out.println("== " + e.getKey());
            try {
                figures.addAll(e.getValue().run(dir));
            } catch (AssertionError missingPeer) {
                // Peers.require: "X is not installed: apt-get install P"
                missing.add(e.getKey() + ": " + missingPeer.getMessage());
                out.println("skipped: " + missingPeer.getMessage());
            }
        }
        out.println();
        out.println("tapdisk4j against real peers, one run (" + java.time.LocalDate.now() + ", "
                + Runtime.getRuntime().availableProcessors() + " cores)");
        out.println(PeerFigure.header());
        figures.forEach(f -> out.println(f.row()));
        if (!missing.isEmpty()) {
            out.println();
            out.println("Not measured, peers missing:");
            missing.forEach(m -> out.println("  " + m));
        }
        return figures;
    }

    /** VHD first writes into unallocated blocks against rewrites of the same blocks (the peer is itself). */
    static List<PeerFigure> vhdFirstWrite(Path dir) throws Exception {
        Path d = Files.createDirectories(dir.resolve("vhd"));
        List<PeerFigure> out = new ArrayList<>();
        for (boolean random : new boolean[]{false, true}) {
            VhdWriteBenchmark.Result r = VhdWriteBenchmark.run(d, 1L << 30, 1 << 20, 8, random);
            System.out.printf(Locale.ROOT, "vhd %s 1 MiB: first write %.0f MB/s, rewrite %.0f MB/s%n",
                    random ? "random" : "sequential", r.firstWriteMBps(), r.rewriteMBps());
            out.add(new PeerFigure("VHD", (random ? "random" : "sequential") + " 1 MiB writes, 1 GiB",
                    "rewrite (target >= 0.5)", r.firstWriteMBps(), r.rewriteMBps(), "MB/s", true));
        }
        return out;
    }
}
