package io.tapdisk4j.xenlab;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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
@Timeout(value = 40, unit = TimeUnit.MINUTES)
class XenLabTest {

    private static LabRun run;

    @BeforeAll
    static void boot() throws IOException, InterruptedException {
        Path root = Path.of("").toAbsolutePath().getParent();
        Path out = Path.of("target", "xen-lab").toAbsolutePath();
        run = LabRun.run(root, out, 1500);
    }

    @Test
    void theBootRanEveryScenarioToTheEnd() {
        assertTrue(run.ended(), () -> "no end marker; the serial log is " + run.serialLog() + "\n" + run.tail());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"defaults", "ring-order", "blkback", "datapath-copy", "datapath-map-copy",
            "datapath-persistent", "datapath-unsafe-map", "flush", "readonly", "readonly-image", "vhd", "nbd-unix",
            "reconnect", "detach", "pause-resume", "pause-held", "ffm-probe", "destroy-mid-io", "daemon-restart"})
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
