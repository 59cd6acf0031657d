package io.tapdisk4j.app;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.DeviceUri;
import picocli.CommandLine;

import java.io.IOException;

/**
 * Expected failures (bad URI, unreachable storage, a corrupt image) print one clear line and exit 1;
 * only a bug prints a stack trace.
 */
final class ErrorReporter implements CommandLine.IExecutionExceptionHandler {

    @Override
    public int handleExecutionException(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
        Throwable t = BlockDeviceException.unwrap(e);
        if (t instanceof IOException || t instanceof IllegalArgumentException || t instanceof IllegalStateException) {
            cmd.getErr().println("tapdisk4j " + cmd.getCommandName() + ": " + DeviceUri.redact(t.getMessage()));
            return 1;
        }
        cmd.getErr().println("tapdisk4j " + cmd.getCommandName() + ": internal error:");
        java.io.StringWriter trace = new java.io.StringWriter();
        t.printStackTrace(new java.io.PrintWriter(trace));
        cmd.getErr().print(DeviceUri.redact(trace.toString()));
        return 70;
    }
}
