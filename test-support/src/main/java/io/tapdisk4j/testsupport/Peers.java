package io.tapdisk4j.testsupport;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Real peer programs (qemu-img, nbdkit, tgtd, ganesha, …). A missing peer fails the test with the
 * package to install: tests never skip.
 */
public final class Peers {

    private static final String[] DIRS = {"/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin", "/usr/local/sbin"};

    private Peers() {
    }

    /** The absolute path of {@code program}, or an AssertionError naming the Debian package it comes from. */
    public static String require(String program, String debianPackage) {
        for (String dir : DIRS) {
            Path p = Path.of(dir, program);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(":")) {
                Path p = Path.of(dir, program);
                if (!dir.isEmpty() && Files.isExecutable(p)) {
                    return p.toString();
                }
            }
        }
        throw new AssertionError(program + " is not installed: apt-get install " + debianPackage
                + " (./scripts/test-all installs every test peer when run as root)");
    }

    public static void requireFile(String path, String debianPackage) {
        if (!Files.exists(Path.of(path))) {
            throw new AssertionError(path + " is missing: apt-get install " + debianPackage
                    + " (./scripts/test-all installs every test peer when run as root)");
        }
    }
}
