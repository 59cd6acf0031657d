package io.tapdisk4j.app;

import io.tapdisk4j.block.Sizes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

/** {@code vdi backup SRC DST [--since BASE]}. */
@Command(name = "backup", description = "Back up SRC (a snapshot) onto DST: everything, or with --since BASE only the blocks "
        + "changed since snapshot BASE, onto DST holding the backup of BASE. Falls back to a full backup when the "
        + "changed-block logs cannot tell (tracking off, a log left inconsistent by a crash). Any URIs, NBD included.")
final class VdiBackupCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SRC") String src;
    @Parameters(index = "1", paramLabel = "DST") String dst;
    @Option(names = "--since", paramLabel = "BASE", description = "The snapshot DST holds: copy only what changed since.") String since;

    @Override
    public Integer call() throws Exception {
        VdiBackup.Result[] r = new VdiBackup.Result[1];
        int rc = VdiCommand.Progress.run("backup", p -> r[0] = new VdiBackup().backup(src, dst, since, p));
        System.out.println((r[0].incremental() ? "incremental" : "full") + " backup of " + src + " onto " + dst + ": "
                + Sizes.format(r[0].bytesCopied()) + " copied (" + r[0].why() + ")");
        return rc;
    }
}
