package io.tapdisk4j.safety.report;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetyReportTest {

    @Test
    void rowsAreNamedAsTheReportFormatSays() {
        assertThrows(IllegalArgumentException.class, () -> SafetyReport.tally("ceph", "copy"));
        assertThrows(IllegalArgumentException.class, () -> SafetyReport.tally("file", "zero-copy"));
        assertTrue(SafetyReport.tally("file", "copy") == SafetyReport.tally("file", "copy"), "one row per pair");
    }

    @Test
    void jsonHasEveryFieldOfEveryRow(@TempDir Path dir) throws Exception {
        Tally t = new Tally("nbd", "unsafe-map", 7);
        t.trial();
        t.trial();
        t.corruption();
        t.useAfterUnmap();
        t.faults(3);
        t.verified(8192);
        assertEquals("{\"backend\": \"nbd\", \"dataPath\": \"unsafe-map\", \"trials\": 2, \"faultsInjected\": 3,"
                + " \"corruptions\": 1, \"useAfterUnmap\": 1, \"bytesVerified\": 8192, \"seed\": 7}", t.json());
        assertTrue(t.sawRace());
        Path out = dir.resolve("sub/report.json");
        SafetyReport.write(out);
        String json = Files.readString(out);
        assertTrue(json.startsWith("[") && json.trim().endsWith("]"), json);
    }

    @Test
    void scenarioSeedsAreStablePerNameAndDiffer() {
        assertEquals(SafetyReport.seedFor("a"), SafetyReport.seedFor("a"));
        assertTrue(SafetyReport.seedFor("a") != SafetyReport.seedFor("b"));
    }
}
