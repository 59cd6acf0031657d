package io.tapdisk4j.app;

import io.tapdisk4j.testsupport.peers.Tgtd;
import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * Issue 19: the destination of `vdi copy` could only be a new image, so nothing could be copied onto an iSCSI
 * LUN. With --existing (qemu-img convert -n) it writes into an existing image or LUN, zeroes included where
 * the source has none: QEMU then finds both identical, though the destination was full of other data.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class VdiCopyExistingTest {

    @TempDir
    Path dir;

    private Path file(String name, int size, int fill) throws Exception {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
            if (fill != 0) {
                byte[] b = new byte[size];
                Arrays.fill(b, (byte) fill);
                f.write(b);
            }
        }
        return p;
    }

    private static void sameContent(Path a, Path b) throws Exception {
        Process p = new ProcessBuilder(Peers.require("qemu-img", "qemu-utils"), "compare", "-f", "raw", "-F", "raw",
                a.toString(), b.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(true, p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
    }

    @Test
    void copiesOntoAnExistingFileAndAnIscsiLunAndListsThePortal() throws Exception {
        Path src = file("src.raw", 8 << 20, 0);
        try (RandomAccessFile f = new RandomAccessFile(src.toFile(), "rw")) {
            byte[] b = new byte[1 << 20];
            Arrays.fill(b, (byte) 0x11);
            f.seek(2 << 20);
            f.write(b); // data at 2 MiB, holes around it
        }
        Path dst = file("dst.raw", 8 << 20, 0xee);
        assertNotEquals(0, Main.run("vdi", "copy", "file://" + src, "file://" + dst), "a plain copy makes a new image");
        assertEquals(0, Main.run("vdi", "copy", "--existing", "file://" + src, "file://" + dst));
        sameContent(src, dst);

        Path small = file("small.raw", 4 << 20, 0xee);
        assertNotEquals(0, Main.run("vdi", "copy", "-n", "file://" + src, "file://" + small), "smaller than the source");

        Path lunFile = file("lun.raw", 8 << 20, 0xee);
        try (Tgtd tgtd = Tgtd.start(dir.resolve("tgtd")).targetWithLun(lunFile)) {
            assertEquals(0, Main.run("vdi", "copy", "--existing", "file://" + src, tgtd.lunUrl(null, 1)));
            // sr ls on the portal, as iscsi-ls: the target, its controller LUN 0 and the disk LUN 1 with its size.
            java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
            java.io.PrintStream original = System.out;
            System.setOut(new java.io.PrintStream(o, true, StandardCharsets.UTF_8));
            int status;
            try {
                status = Main.run("sr", "ls", "iscsi://" + tgtd.portal());
            } finally {
                System.setOut(original);
            }
            String listing = o.toString(StandardCharsets.UTF_8);
            assertEquals(0, status, listing);
            org.junit.jupiter.api.Assertions.assertTrue(listing.lines().anyMatch(l -> l.startsWith(Tgtd.IQN)
                    && l.matches(".*\\s1\\s+" + (8 << 20) + "\\s+iscsi://.*")), listing);
            org.junit.jupiter.api.Assertions.assertTrue(listing.lines().anyMatch(l -> l.startsWith(Tgtd.IQN)
                    && l.matches(".*\\s0\\s+-\\s+not a disk")), listing);
        }
        sameContent(src, lunFile);
    }
}
