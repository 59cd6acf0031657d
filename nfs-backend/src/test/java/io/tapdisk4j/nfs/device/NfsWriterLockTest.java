package io.tapdisk4j.nfs.device;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.block.WriterLocks;
import io.tapdisk4j.testsupport.peers.Ganesha;
import io.tapdisk4j.testsupport.peers.GaneshaExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One writer per image on NFS (nfs-ganesha, no NLM): a lock file created exclusively beside the image, with
 * the holder and a lease. A second writer is refused naming the holder; a dead holder's stale lock needs
 * --force; a live holder's lock is never broken.
 */
@ExtendWith(GaneshaExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NfsWriterLockTest {

    private final Ganesha ganesha;
    private final NfsDeviceProvider provider = new NfsDeviceProvider();

    NfsWriterLockTest(Ganesha ganesha) {
        this.ganesha = ganesha;
    }

    @Test
    void aSecondWriterIsRefusedNamingTheHolder() throws Exception {
        DeviceUri uri = DeviceUri.parse(ganesha.url("locked.raw", ""));
        Path lockFile = ganesha.export().resolve("locked.raw.lock");
        try (BlockDevice writer = provider.create(uri, 1 << 20)) {
            assertTrue(Files.exists(lockFile));
            String holder = Files.readString(lockFile);
            assertTrue(holder.contains("pid " + ProcessHandle.current().pid()), holder);
            assertTrue(holder.contains("lease-until "), holder);
            BlockDeviceException e = assertThrows(BlockDeviceException.class, () -> provider.open(uri, OpenOptions.DEFAULT));
            assertEquals(BlockError.EBUSY, e.error());
            assertTrue(e.getMessage().contains("already open for writing by host ")
                    && e.getMessage().contains("pid " + ProcessHandle.current().pid()), e.getMessage());
            WriterLocks.breakStale(true);
            try {
                assertThrows(BlockDeviceException.class, () -> provider.open(uri, OpenOptions.DEFAULT),
                        "--force never breaks a live holder's lock");
            } finally {
                WriterLocks.breakStale(false);
            }
            try (BlockDevice reader = provider.open(uri, OpenOptions.readOnlyOptions())) {
                assertEquals(1 << 20, reader.size());
            }
        }
        assertFalse(Files.exists(lockFile), "closing removes the lock file");
        try (BlockDevice again = provider.open(uri, OpenOptions.DEFAULT)) {
            assertEquals(1 << 20, again.size());
        }
        assertFalse(Files.exists(lockFile));
    }

    @Test
    void aDeadHoldersStaleLockNeedsForce() throws Exception {
        DeviceUri uri = DeviceUri.parse(ganesha.url("stale.raw", ""));
        provider.create(uri, 1 << 20).close();
        Path lockFile = ganesha.export().resolve("stale.raw.lock");
        // What a writer on another host that crashed leaves behind: its lease ran out a minute ago.
        Files.writeString(lockFile, "tapdisk4j writer lock\nhost other-host\npid 4242\ncommand java\ntoken t\n"
                + "lease-until " + Instant.now().minusSeconds(60) + "\n");
        BlockDeviceException e = assertThrows(BlockDeviceException.class, () -> provider.open(uri, OpenOptions.DEFAULT));
        assertEquals(BlockError.EBUSY, e.error());
        assertTrue(e.getMessage().contains("host other-host pid 4242") && e.getMessage().contains("--force"),
                e.getMessage());
        WriterLocks.breakStale(true);
        try (BlockDevice d = provider.open(uri, OpenOptions.DEFAULT)) {
            assertTrue(Files.readString(lockFile).contains("pid " + ProcessHandle.current().pid()));
        } finally {
            WriterLocks.breakStale(false);
        }
        assertFalse(Files.exists(lockFile));
    }
}
