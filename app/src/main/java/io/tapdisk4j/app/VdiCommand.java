package io.tapdisk4j.app;

import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Sizes;
import io.tapdisk4j.vhd.VdiInfo;
import io.tapdisk4j.vhd.VdiOperations;
import io.tapdisk4j.vhd.VdiProgress;
import io.tapdisk4j.vhd.VhdChecker;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code tapdisk4j vdi …}: VDI tools on any device URI, a thin layer over {@link VdiOperations}. Images must
 * not be open elsewhere while these run.
 */
@Command(name = "vdi", description = "Create, inspect, check, snapshot, clone, coalesce, copy and resize virtual disk images on any storage URI.",
        mixinStandardHelpOptions = true, modelTransformer = VdiCommand.Subcommands.class)
public final class VdiCommand implements Runnable {

    /**
     * The subcommands, in the order help lists them. Added here rather than in the annotation so that
     * {@code vdi NAME ...} builds only the one it runs: picocli reflects over every command class it is
     * given, a tenth of a second for this whole tree on a cold JVM.
     */
    private static final java.util.Map<String, java.util.function.Supplier<Object>> SUBCOMMANDS;

    static {
        java.util.Map<String, java.util.function.Supplier<Object>> m = new java.util.LinkedHashMap<>();
        m.put("create", Create::new);
        m.put("info", Info::new);
        m.put("check", Check::new);
        m.put("snapshot", Snapshot::new);
        m.put("clone", Clone::new);
        m.put("coalesce", Coalesce::new);
        m.put("copy", Copy::new);
        m.put("resize", Resize::new);
        m.put("cbt", VdiCbtCommand::new);
        m.put("backup", VdiBackupCommand::new);
        SUBCOMMANDS = java.util.Collections.unmodifiableMap(m);
    }

    /** Set while {@link #commandLine} builds a tree for one subcommand. */
    private static final ThreadLocal<String> ONLY = new ThreadLocal<>();

    /** The vdi command with every subcommand, or only {@code name} when it names one. */
    static picocli.CommandLine commandLine(String name) {
        ONLY.set(name);
        try {
            return new picocli.CommandLine(new VdiCommand());
        } finally {
            ONLY.remove();
        }
    }

    /**
     * Adds the subcommands whenever picocli builds vdi (so {@code new CommandLine(new Main())} gets them all),
     * or only the one {@link #commandLine} asked for.
     */
    static final class Subcommands implements picocli.CommandLine.IModelTransformer {
        @Override
        public picocli.CommandLine.Model.CommandSpec transform(picocli.CommandLine.Model.CommandSpec vdi) {
            String name = ONLY.get();
            boolean one = name != null && SUBCOMMANDS.containsKey(name);
            SUBCOMMANDS.forEach((n, command) -> {
                if (!one || n.equals(name)) {
                    vdi.addSubcommand(n, new picocli.CommandLine(command.get()));
                }
            });
            return vdi;
        }
    }

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Every writable open takes the image's writer lock; --force breaks one whose holder is known dead. */
    @Option(names = "--force", scope = picocli.CommandLine.ScopeType.INHERIT,
            description = "Break a stale writer lock left by a dead holder (an NFS lock file whose lease ran out, an "
                    + "iSCSI reservation whose holder is gone); a live holder's lock on this host is never broken.")
    void force(boolean force) {
        io.tapdisk4j.block.WriterLocks.breakStale(force);
    }

    static long size(String text) {
        return Sizes.parse(text);
    }

    @Command(name = "create", description = "Create an empty image: raw, a dynamic/fixed VHD with 2 MiB blocks (up to 2040 GiB), or qcow2 v3 with 64 KiB clusters (up to 64 TiB).")
    static final class Create implements Callable<Integer> {
        @Parameters(paramLabel = "URI") String uri;
        @Option(names = "--size", required = true, description = "Virtual size, e.g. 10G.") String size;
        @Option(names = "--format", defaultValue = "raw", description = "raw, vhd or qcow2 (default: ${DEFAULT-VALUE}).") String format;
        @Option(names = "--fixed", description = "A fixed-size VHD (all space at once) instead of a dynamic one.") boolean fixed;

        @Override
        public Integer call() throws Exception {
            new VdiOperations().create(uri, size(size), format, fixed);
            System.out.println("created " + DeviceUri.redact(uri) + " (" + format.toLowerCase(Locale.ROOT) + (fixed ? ", fixed" : "")
                    + ", " + Sizes.format(size(size)) + ")");
            return 0;
        }
    }

    @Command(name = "info", description = "Format, size, allocation and parent chain of an image.")
    static final class Info implements Callable<Integer> {
        @Parameters(paramLabel = "URI") String uri;
        @Option(names = "--json", description = "One JSON object.") boolean json;

        @Override
        public Integer call() throws Exception {
            VdiInfo info = new VdiOperations().info(uri);
            System.out.print(json ? info.toJson() + "\n" : info.toText());
            return 0;
        }
    }

    @Command(name = "check", description = "Check an image's structure and its whole chain; exit status 0 when sound, 1 when not.")
    static final class Check implements Callable<Integer> {
        @Parameters(paramLabel = "URI") String uri;

        @Override
        public Integer call() {
            VhdChecker.Result r = new VdiOperations().check(uri);
            r.warnings().forEach(w -> System.out.println("warning: " + DeviceUri.redact(w)));
            r.problems().forEach(p -> System.out.println("error: " + DeviceUri.redact(p)));
            System.out.println(DeviceUri.redact(r.ok() ? uri + " is valid (chain: " + String.join(" -> ", r.chain()) + ")"
                    : uri + " has " + r.problems().size() + " problem(s)"));
            return r.ok() ? 0 : 1;
        }
    }

    @Command(name = "snapshot", description = "Freeze the image as a read-only parent beside it; a new empty child takes its place at URI "
            + "(storage that can rename: file:, nfs:; elsewhere use clone).")
    static final class Snapshot implements Callable<Integer> {
        @Parameters(paramLabel = "URI") String uri;

        @Override
        public Integer call() throws Exception {
            String parent;
            CbtSnapshots cbt = CbtSnapshots.before(uri);
            try {
                parent = new VdiOperations().snapshot(uri);
            } catch (io.tapdisk4j.block.BlockDeviceException e) {
                throw inUse(e);
            }
            cbt.after(parent);
            System.out.println(DeviceUri.redact(uri + " is now a child of " + parent));
            return 0;
        }
    }

    @Command(name = "clone", description = "Create NEWURI as a differencing child of PARENT (which then must not be written).")
    static final class Clone implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "PARENT") String parent;
        @Parameters(index = "1", paramLabel = "NEWURI") String newUri;

        @Override
        public Integer call() throws Exception {
            new VdiOperations().clone(parent, newUri);
            System.out.println(DeviceUri.redact("created " + newUri + " as a child of " + parent));
            return 0;
        }
    }

    @Command(name = "coalesce", description = "Merge a differencing image into its parent; the image stays, now empty. "
            + "Refused while the parent has other children (found in its directory), unless each is named with --keep: "
            + "those first receive the parent's old data, so they read the same afterwards. "
            + "For an image a guest is using: ctl coalesce DOMID/DEVID.")
    static final class Coalesce implements Callable<Integer> {
        @Parameters(paramLabel = "URI") String uri;
        @Option(names = "--keep", paramLabel = "URI", description = "Another child of the parent to keep intact (repeat for each).")
        java.util.List<String> keep = new java.util.ArrayList<>();

        @Override
        public Integer call() throws Exception {
            return Progress.run("coalesce", p -> {
                try {
                    new VdiOperations().coalesce(uri, keep, p);
                } catch (io.tapdisk4j.block.BlockDeviceException e) {
                    throw inUse(e);
                }
            });
        }
    }

    @Command(name = "copy", description = "Copy SRC to a new image DST, reading only allocated data (thin), between any two URIs; "
            + "with --existing onto an image or LUN that exists (as qemu-img convert -n): the only way onto an iSCSI LUN.")
    static final class Copy implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "SRC") String src;
        @Parameters(index = "1", paramLabel = "DST") String dst;
        @Option(names = "--format", defaultValue = "raw", description = "Format of a new DST: raw, vhd or qcow2 (default: ${DEFAULT-VALUE}).") String format;
        @Option(names = {"-n", "--existing"}, description = "DST exists (an image, a LUN): write into it, zeroes where SRC has none; "
                + "it must be at least as large as SRC.") boolean existing;
        @Option(names = {"-t", "--cache"}, defaultValue = "none", paramLabel = "MODE",
                description = "How DST is written where it has a page cache (a local file): none (O_DIRECT, as "
                        + "qemu-img convert -t none and sparse_dd: the copy does not evict what running guests have "
                        + "cached) or writeback (through the page cache). Either way DST is flushed before the "
                        + "command returns. Default: ${DEFAULT-VALUE}.") CacheMode cache;

        /** {@code --cache}: qemu-img's names for the two modes that end with the data on the disk. */
        enum CacheMode { none, writeback }

        @Override
        public Integer call() throws Exception {
            return Progress.run("copy", p -> new VdiOperations().copy(src, dst, format, existing,
                    cache == CacheMode.none, p));
        }
    }

    @Command(name = "resize", description = "Change an image's virtual size; making it smaller needs --shrink.")
    static final class Resize implements Callable<Integer> {
        @Parameters(paramLabel = "URI") String uri;
        @Option(names = "--size", required = true) String size;
        @Option(names = "--shrink", description = "Allow a smaller size: the data beyond it is cut off.") boolean shrink;

        @Override
        public Integer call() throws Exception {
            new VdiOperations().resize(uri, size(size), shrink);
            System.out.println("resized " + DeviceUri.redact(uri) + " to " + Sizes.format(size(size)));
            return 0;
        }
    }

    /** An image in use by a writer: say how to do the operation on a live image instead. */
    static io.tapdisk4j.block.BlockDeviceException inUse(io.tapdisk4j.block.BlockDeviceException e) {
        if (e.error() != io.tapdisk4j.block.BlockError.EBUSY) {
            return e;
        }
        return new io.tapdisk4j.block.BlockDeviceException(e.error(), e.getMessage() + ". If a tapdisk4j daemon"
                + " serves it, do it through the daemon: `tapdisk4j ctl snapshot|coalesce DOMID/DEVID` (pause, change,"
                + " resume), or pause the device first with `ctl pause`", e);
    }

    interface Operation {
        void run(VdiProgress progress) throws Exception;
    }

    /**
     * A progress bar on a terminal, a line per 10% otherwise. Ctrl-C asks the operation to stop at its next
     * consistent point and waits for it, so the images are closed properly before the JVM exits.
     */
    static final class Progress implements VdiProgress {
        private final PrintStream out = System.err;
        private final boolean terminal = System.console() != null && System.console().isTerminal();
        private volatile boolean cancelled;
        private int lastTenth = -1;
        private long lastDraw;

        static int run(String name, Operation op) throws Exception {
            Progress p = new Progress();
            CountDownLatch done = new CountDownLatch(1);
            Thread hook = new Thread(() -> {
                p.cancelled = true;
                try {
                    done.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }, "vdi-" + name + "-interrupt");
            Runtime.getRuntime().addShutdownHook(hook);
            try {
                op.run(p);
                p.finish();
                return 0;
            } finally {
                done.countDown();
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException shuttingDown) {
                    // the hook is running: it only waits for the latch released above
                }
            }
        }

        @Override
        public boolean cancelled() {
            return cancelled;
        }

        @Override
        public synchronized void update(String phase, long done, long total) {
            if (total <= 0) {
                return;
            }
            int tenth = (int) (done * 10 / total);
            if (terminal) {
                long now = System.nanoTime();
                if (now - lastDraw < 100_000_000L && done < total) {
                    return;
                }
                lastDraw = now;
                int width = 40;
                int filled = (int) (done * width / total);
                out.printf(Locale.ROOT, "\r%s [%s%s] %3d%% %s / %s", phase, "#".repeat(filled), " ".repeat(width - filled),
                        done * 100 / total, Sizes.format(done), Sizes.format(total));
            } else if (tenth != lastTenth) {
                lastTenth = tenth;
                out.printf(Locale.ROOT, "%s: %d%% (%d of %d bytes)%n", phase, done * 100 / total, done, total);
            }
        }

        void finish() {
            if (terminal) {
                out.println();
            }
        }
    }
}
