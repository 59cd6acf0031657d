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
    void scenariosThatRanAreReportedWithTheirNote() {
        Tally t = new Tally("nfs", "copy", 9);
        t.trial();
        t.scenario("held-reissue"); // never ran: not reported
        ScenarioTally s = t.scenario("outbound-queue");
        s.trial();
        s.trial();
        s.recordDelivered(true);
        s.recordDelivered(false);
        s.recordNotDelivered();
        s.note("says \"why\"");
        assertEquals("{\"backend\": \"nfs\", \"dataPath\": \"copy\", \"trials\": 1, \"faultsInjected\": 0,"
                + " \"corruptions\": 0, \"useAfterUnmap\": 0, \"bytesVerified\": 0, \"seed\": 9, \"scenarios\":"
                + " {\"outbound-queue\": {\"trials\": 2, \"staleDelivered\": 2, \"staleCarriedLaterData\": 1,"
                + " \"staleNotDelivered\": 1, \"note\": \"says \\\"why\\\"\"}}}", t.json());
        assertTrue(t.scenarioLines("").contains("outbound-queue: trials=2"), t.scenarioLines(""));
    }

    @Test
    void scenarioSeedsAreStablePerNameAndDiffer() {
        assertEquals(SafetyReport.seedFor("a"), SafetyReport.seedFor("a"));
        assertTrue(SafetyReport.seedFor("a") != SafetyReport.seedFor("b"));
    }
}
