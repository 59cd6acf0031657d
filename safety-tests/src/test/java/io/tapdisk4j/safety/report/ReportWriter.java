package io.tapdisk4j.safety.report;

import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestPlan;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;

/**
 * Prints the summary and writes safety-report.json when the test run ends (registered through
 * META-INF/services, so every run of the module's tests produces the report).
 */
public final class ReportWriter implements TestExecutionListener {

    @Override
    public void testPlanExecutionStarted(TestPlan testPlan) {
        try {
            Files.deleteIfExists(SafetyReport.path());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void testPlanExecutionFinished(TestPlan testPlan) {
        try {
            SafetyReport.write(SafetyReport.path());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        System.out.print(SafetyReport.summary());
        System.out.println("[safety] wrote " + SafetyReport.path().toAbsolutePath());
    }
}
