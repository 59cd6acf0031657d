package io.tapdisk4j.iscsi.target;

import io.tapdisk4j.block.local.FileDevice;
import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A representative part of libiscsi's conformance suite with --dataloss against a raw file: the iSCSI
 * suites (residuals, task management, CmdSN window) and one or two suites of every SCSI command family,
 * about 70 tests, a minute or two. The whole suite (615 tests) against both this target and tgtd, with a
 * per-test diff, is {@code scripts/iscsi-conformance}; there one test fails on every target:
 * iSCSIdatasn.iSCSIDataSnInvalid sends a one-block write after reconnecting, and the reconnected libiscsi
 * sends the data as immediate data, which has no DataSN to get wrong (tgtd fails it the same way).
 */
@Timeout(600)
class ConformanceTest {

    static final String IQN = "iqn.2026-12.io.tapdisk4j.test:conformance";
    /** Suites whose tests loop over every transfer size (Read10, Verify16, CompareAndWrite) are left to the script. */
    static final List<String> SUITES = List.of("iSCSIResiduals", "iSCSITMF", "iSCSIcmdsn", "Inquiry", "ReadCapacity16",
            "WriteSame10", "Unmap", "GetLBAStatus", "ModeSense6", "ReportSupportedOpcodes", "PrinReadKeys",
            "ProutRegister", "ProutReserve", "TestUnitReady", "Read6");

    @TempDir
    Path dir;

    @Test
    void iscsiTestCuPassesARepresentativeSubset() throws Exception {
        String cu = Peers.require("iscsi-test-cu", "libiscsi-bin");
        Path file = dir.resolve("lun.raw");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(128 << 20);
        }
        try (FileDevice device = FileDevice.open(file.toString(), false, false);
             IscsiTarget target = IscsiTarget.start(device, IscsiTargetConfig.of(IQN), "127.0.0.1", 0)) {
            List<String> passed = new ArrayList<>();
            List<String> failed = new ArrayList<>();
            StringBuilder log = new StringBuilder();
            for (String suite : SUITES) {
                Process p = new ProcessBuilder(cu, "--dataloss", "-t", "ALL." + suite,
                        "-i", "iqn.2026-12.io.tapdisk4j.test:init1", "-I", "iqn.2026-12.io.tapdisk4j.test:init2",
                        "iscsi://127.0.0.1:" + target.port() + "/" + IQN + "/0").redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertTrue(p.waitFor(120, TimeUnit.SECONDS), "iscsi-test-cu did not finish " + suite);
                log.append(out);
                String test = null;
                for (String line : out.split("\n")) {
                    if (line.startsWith("  Test: ")) {
                        test = suite + "." + line.substring(8).split(" ")[0];
                    }
                    // CUnit ends a test's lines with "passed" or "FAILED" (or prints "...passed" before a late log line).
                    if (test != null && (line.endsWith("passed") || line.contains("...passed") || line.endsWith("FAILED"))) {
                        (line.endsWith("FAILED") ? failed : passed).add(test);
                        test = null;
                    }
                }
            }
            String out = log.toString();
            assertEquals(List.of(), failed, out);
            assertTrue(passed.size() >= 60, "only " + passed.size() + " tests passed:\n" + out);
        }
    }
}
