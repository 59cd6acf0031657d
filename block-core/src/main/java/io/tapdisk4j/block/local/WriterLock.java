package io.tapdisk4j.block.local;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * One writer per local image file, across processes: a writable open takes an OFD write lock on one byte
 * far beyond any image's end (so it never meets QEMU's byte-range locks, which sit at offsets 100 and 200).
 * The kernel drops the lock when its holder dies, so a lock can never be stale. When the lock is taken,
 * the holder is found the way lslocks does it: the lock lines in /proc/PID/fdinfo/FD.
 */
final class WriterLock {

    /** The locked byte: 2^62, beyond any file (VHD's limit is 2 TiB) and far from QEMU's lock bytes. */
    static final long BYTE = 1L << 62;

    private WriterLock() {
    }

    static void acquire(LinuxFile file, String path) throws BlockDeviceException {
        if (!file.tryWriteLock(BYTE, 1)) {
            throw new BlockDeviceException(BlockError.EBUSY, path + " is already open for writing by "
                    + holder(path) + "; one writer at a time");
        }
    }

    /** "pid N (command line)" of a process holding an OFD lock on {@code path}'s inode, or a plain phrase. */
    static String holder(String path) {
        String inode;
        try {
            Object ino = Files.readAttributes(Path.of(path), BasicFileAttributes.class).fileKey();
            // fileKey() is "(dev=XXXX,ino=NNN)" on Linux: the inode number is what fdinfo's lock line names.
            String k = String.valueOf(ino);
            int i = k.indexOf("ino=");
            inode = i < 0 ? null : k.substring(i + 4).replaceAll("[^0-9].*", "");
        } catch (IOException | RuntimeException e) {
            inode = null;
        }
        if (inode == null) {
            return "another process";
        }
        long self = ProcessHandle.current().pid();
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path proc : procs) {
                try (DirectoryStream<Path> fds = Files.newDirectoryStream(proc.resolve("fdinfo"))) {
                    for (Path fd : fds) {
                        String info;
                        try {
                            info = Files.readString(fd, StandardCharsets.US_ASCII);
                        } catch (IOException gone) {
                            continue;
                        }
                        for (String line : info.split("\n")) {
                            if (line.startsWith("lock:") && line.contains("OFDLCK") && line.contains(" WRITE ")
                                    && line.contains(":" + inode + " ") && line.contains(" " + BYTE + " ")) {
                                long pid = Long.parseLong(proc.getFileName().toString());
                                return "pid " + pid + (pid == self ? " (this process)" : "") + commandLine(proc);
                            }
                        }
                    }
                } catch (IOException | RuntimeException unreadable) {
                    // another user's process, or one that just exited
                }
            }
        } catch (IOException e) {
            return "another process";
        }
        return "another process";
    }

    private static String commandLine(Path proc) {
        try {
            String c = new String(Files.readAllBytes(proc.resolve("cmdline")), StandardCharsets.UTF_8)
                    .replace('\0', ' ').trim();
            // Long java command lines: the program and the end (the command and its arguments) say what it is.
            return c.isEmpty() ? "" : " (" + (c.length() > 200 ? c.substring(0, 60) + " … " + c.substring(c.length() - 130)
                    : c) + ")";
        } catch (IOException e) {
            return "";
        }
    }
}
