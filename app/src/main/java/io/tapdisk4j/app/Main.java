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
                AotTrainingCommand.class,
        })
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        int status = run(args);
        io.tapdisk4j.block.EventLoops.shutdownShared(1000);
        System.exit(status);
    }

    /** Runs the CLI and returns its exit status (tests call this in-process). */
    public static int run(String... args) {
        return commandLine(args)
                .setExecutionExceptionHandler(new ErrorReporter())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .execute(args);
    }

    /**
     * The commands people run often and expect to return at once ({@code vdi info}, {@code ctl list}): a tree of
     * just that command, so start-up does not load and reflect over every other command's classes (the
     * daemon, the demo, the benchmarks). Usage and errors read the same ("tapdisk4j vdi info ...").
     */
    static CommandLine commandLine(String... args) {
        if (args.length == 0 || !(args[0].equals("vdi") || args[0].equals("ctl"))) {
            return commandLine();
        }
        CommandLine root = new CommandLine(CommandLine.Model.CommandSpec.create().name("tapdisk4j"));
        if (args[0].equals("ctl")) {
            root.addSubcommand("ctl", new CtlCommand());
        } else {
            // Only the vdi subcommand that runs (all of them for `vdi`, `vdi --help` or a name that is none).
            root.addSubcommand("vdi", VdiCommand.commandLine(args.length > 1 ? args[1] : null));
        }
        addHelp(root);
        return root;
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
