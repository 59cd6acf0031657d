package io.tapdisk4j.testsupport;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The bytes a file system holds for a file (st_blocks x 512, from stat(1)): the JDK has no attribute for it,
 * and the allocation map (SEEK_DATA) cannot tell allocated-but-unwritten space (tmpfs) from a hole.
 */
public final class AllocatedBytes {

    private AllocatedBytes() {
    }

    public static long of(Path file) throws IOException, InterruptedException {
        Process stat = new ProcessBuilder("stat", "--format=%b", file.toString()).start();
        String out = new String(stat.getInputStream().readAllBytes()).trim();
        if (!stat.waitFor(10, TimeUnit.SECONDS) || stat.exitValue() != 0) {
            throw new IOException("stat " + file + " failed: " + out);
        }
        return Long.parseLong(out) * 512;
    }
}
