package io.tapdisk4j.app;

import picocli.CommandLine.Command;

/** {@code tapdisk4j bench …}: benchmarks that print figures; never timed tests. */
@Command(name = "bench", description = "Benchmarks: the ring server, the seed experiment, peers side by side, JMH.",
        subcommands = {BenchRingCommand.class, BenchSeedCommand.class, BenchPeersCommand.class, BenchJmhCommand.class,
                BenchCopyCommand.class, BenchCbtCommand.class})
final class BenchCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Benchmarks print their own figures; per-device state lines would drown them. */
    static void quietDeviceLogs() {
        System.setProperty("org.slf4j.simpleLogger.log.io.tapdisk4j", "warn");
    }
}
