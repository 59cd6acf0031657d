package io.tapdisk4j.app;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code ./tapdisk4j}: the daemon, its controls, exports, VDI tools, the demo and the benchmarks. */
@Command(name = "tapdisk4j", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "Userspace blkif storage backend for Xen dom0, with grant copy.",
        subcommands = {
                DemoCommand.class,
                ServeCommand.class,
                CtlCommand.class,
                ExportCommand.class,
                VdiCommand.class,
                SrCommand.class,
                DevicesCommand.class,
                BenchCommand.class,
                CommandLine.HelpCommand.class,
        })
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit status (tests call this in-process). */
    public static int run(String... args) {
        return commandLine()
                .setExecutionExceptionHandler(new ErrorReporter())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .execute(args);
    }

    /** The whole command tree; every command and subcommand answers -h/--help, however it was declared. */
    static CommandLine commandLine() {
        CommandLine c = new CommandLine(new Main());
        addHelp(c);
        return c;
    }

    private static void addHelp(CommandLine c) {
        CommandLine.Model.CommandSpec s = c.getCommandSpec();
        if (s.findOption("--help") == null) {
            String[] names = s.findOption("-h") == null ? new String[]{"-h", "--help"} : new String[]{"--help"};
            s.addOption(CommandLine.Model.OptionSpec.builder(names).usageHelp(true)
                    .description("Show this help message and exit.").build());
        }
        c.getSubcommands().values().forEach(Main::addHelp);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
