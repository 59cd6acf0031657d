package io.tapdisk4j.xenlab;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Real Xen: one boot of scripts/xen-lab (Xen 4.17 and a dom0 under QEMU, one {@code tapdisk4j serve --xen},
 * real Linux PV guests with xen-blkfront), then one test per scenario on that boot's result lines.
 * A scenario without a result line fails too: nothing here can pass by not running.
 */
@Timeout(value = 55, unit = TimeUnit.MINUTES)
class XenLabTest {

    /** Every scenario scripts/xen-lab knows, in the order it runs them. */
    static final List<String> ALL = List.of("defaults", "ring-order", "blkback", "datapath-copy", "datapath-map-copy",
            "datapath-persistent", "datapath-unsafe-map", "flush", "readonly", "readonly-image", "vhd", "nbd-unix",
            "iscsi-kernel", "reconnect", "detach", "pause-resume", "pause-held", "ffm-probe", "destroy-mid-io", "daemon-restart");

    /**
     * What {@code mvn verify} alone boots: blkfront's defaults (2 queues, indirect descriptors), every data
     * path, flush/FUA/discard, a VHD image read back in dom0 through the kernel's NBD client, and a read-only
     * VBD; two waves of guests. The README's test command (scripts/test-all) instead starts every scenario
     * ({@link #ALL}) beside the Maven build and this test checks them ({@code -Dxenlab.started=DIR});
     * {@code -Dxenlab.scenarios=all} or a comma-separated list chooses here. The rest adds the blkback
     * reference, the large ring, dom0's kernel iSCSI initiator and the lifecycle scenarios.
     */
    static final List<String> DEFAULT = List.of("defaults", "datapath-copy", "datapath-map-copy",
            "datapath-persistent", "datapath-unsafe-map", "flush", "vhd", "nbd-unix", "readonly", "readonly-image");

    private static LabRun run;

    /** Where scripts/test-all started the whole lab beside the Maven build (unset: this test boots it). */
    static String startedBeside() {
        return System.getProperty("xenlab.started", "");
    }

    static List<String> scenarios() {
        if (!startedBeside().isBlank()) {
            return ALL;
        }
        String p = System.getProperty("xenlab.scenarios", "");
        if (p.isBlank()) {
            return DEFAULT;
        }
        if (p.equals("all")) {
            return ALL;
        }
        List<String> named = List.of(p.split(","));
        for (String n : named) {
            if (!ALL.contains(n)) {
                throw new IllegalArgumentException("xenlab.scenarios: no scenario " + n + "; known: " + ALL);
            }
        }
        return named;
    }

    // The lab's own deadline bounds the boot; the project's default of 5 minutes per method would cut it short.
    @BeforeAll
    @Timeout(value = 55, unit = TimeUnit.MINUTES)
    static void boot() throws IOException, InterruptedException {
        if (!startedBeside().isBlank()) {
            run = LabRun.awaitStarted(Path.of(startedBeside()), 2400 + 600);
            return;
        }
        Path root = Path.of("").toAbsolutePath().getParent();
        Path out = Path.of("target", "xen-lab").toAbsolutePath();
        List<String> chosen = scenarios();
        run = LabRun.run(root, out, chosen.equals(ALL) ? 2400 : 1200, chosen.equals(ALL) ? List.of() : chosen);
    }

    @Test
    void theBootRanEveryScenarioToTheEnd() {
        assertTrue(run.ended(), () -> "no end marker; the serial log is " + run.serialLog() + "\n" + run.tail());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void scenario(String name) {
        List<LabRun.Result> results = run.results(name);
        if (results.isEmpty()) {
            fail("scenario " + name + " printed no result; see " + run.serialLog() + "\n" + run.tail());
        }
        assertEquals(1, results.size(), () -> name + " printed several results: " + results);
        assertTrue(results.getFirst().passed(), () -> name + ": " + results.getFirst().detail() + "\n"
                + run.context(name));
    }

    @Test
    void noScenarioFailedThatIsNotListedHere() {
        assertFalse(run.anyFailure(), () -> "failures: " + run.failures());
        assertTrue(Files.exists(run.serialLog()));
    }
}
