package io.tapdisk4j.block.local;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One writer per file: a second writable open is refused naming the holder; readers are not affected. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class WriterLockTest {

    @TempDir
    Path dir;

    @Test
    void aSecondWriterIsRefusedNamingTheHolderAndReadersStillOpen() throws Exception {
        String path = dir.resolve("disk.raw").toString();
        try (FileDevice writer = FileDevice.create(path, 1 << 20)) {
            BlockDeviceException e = assertThrows(BlockDeviceException.class, () -> FileDevice.open(path, false, false));
            assertEquals(BlockError.EBUSY, e.error());
            assertTrue(e.getMessage().contains("pid " + ProcessHandle.current().pid() + " (this process)"),
                    e.getMessage());
            assertTrue(e.getMessage().contains(path), e.getMessage());
            try (FileDevice reader = FileDevice.open(path, true, false)) {
                assertEquals(1 << 20, reader.size());
            }
            // Closing a reader's descriptor does not drop the writer's lock (an OFD lock, not a POSIX one).
            assertThrows(BlockDeviceException.class, () -> FileDevice.open(path, false, true));
        }
        try (FileDevice next = FileDevice.open(path, false, false)) {
            assertEquals(1 << 20, next.size());
        }
    }
}
