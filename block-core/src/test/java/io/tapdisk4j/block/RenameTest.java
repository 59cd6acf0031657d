package io.tapdisk4j.block;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The rename hook: file: renames in place, refuses to overwrite; storage without names refuses clearly. */
class RenameTest {

    @TempDir
    Path dir;

    final BlockDevices devices = BlockDevices.loadDefault();

    @Test
    void fileRenamesAndNeverOverwrites() throws Exception {
        Path a = dir.resolve("a.raw");
        Files.write(a, new byte[]{1, 2, 3});
        Files.write(dir.resolve("taken.raw"), new byte[]{9});
        devices.rename(DeviceUri.parse("file://" + a), DeviceUri.parse("file://" + dir.resolve("b.raw")));
        assertFalse(Files.exists(a));
        assertArrayEquals(new byte[]{1, 2, 3}, Files.readAllBytes(dir.resolve("b.raw")));

        BlockDeviceException exists = assertThrows(BlockDeviceException.class, () -> devices.rename(
                DeviceUri.parse("file://" + dir.resolve("b.raw")), DeviceUri.parse("file://" + dir.resolve("taken.raw"))));
        assertTrue(exists.getMessage().contains("exists"), exists.getMessage());
        assertArrayEquals(new byte[]{9}, Files.readAllBytes(dir.resolve("taken.raw")));
        assertTrue(Files.exists(dir.resolve("b.raw")));

        BlockDeviceException missing = assertThrows(BlockDeviceException.class, () -> devices.rename(
                DeviceUri.parse("file://" + dir.resolve("nothing.raw")), DeviceUri.parse("file://" + dir.resolve("c.raw"))));
        assertEquals(BlockError.EINVAL, missing.error());
        assertTrue(missing.getMessage().contains("no such file"), missing.getMessage());
    }

    @Test
    void storageWithoutNamesAndAcrossSchemesRefuses() {
        BlockDeviceException memory = assertThrows(BlockDeviceException.class, () -> devices.rename(
                DeviceUri.parse("memory:x"), DeviceUri.parse("memory:y")));
        assertEquals(BlockError.ENOTSUP, memory.error());
        assertTrue(memory.getMessage().contains("'memory:' cannot rename"), memory.getMessage());
        BlockDeviceException across = assertThrows(BlockDeviceException.class, () -> devices.rename(
                DeviceUri.parse("file://" + dir.resolve("a")), DeviceUri.parse("memory:a")));
        assertEquals(BlockError.EINVAL, across.error());
    }
}
