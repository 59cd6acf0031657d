package io.tapdisk4j.app;

import io.tapdisk4j.block.local.FileDevice;
import io.tapdisk4j.iscsi.target.IscsiTarget;
import io.tapdisk4j.iscsi.target.IscsiTargetConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The project's own initiator against the project's own target: {@code vdi copy} onto a LUN and back, byte for byte. */
@Timeout(180)
class IscsiExportTest {

    @TempDir
    Path dir;

    @Test
    void vdiCopyToTheTargetAndBack() throws Exception {
        int size = 24 << 20;
        byte[] data = new byte[size];
        new Random(11).nextBytes(data);
        Arrays.fill(data, 4 << 20, 9 << 20, (byte) 0); // a hole in the source, which copy skips
        Path src = dir.resolve("src.raw");
        Files.write(src, data);
        Path lun = dir.resolve("lun.raw");
        try (RandomAccessFile f = new RandomAccessFile(lun.toFile(), "rw")) {
            f.setLength(size);
        }
        String iqn = IscsiTargetConfig.defaultName("vdi-copy-test");
        try (FileDevice device = FileDevice.open(lun.toString(), false, false);
             IscsiTarget target = IscsiTarget.start(device, IscsiTargetConfig.of(iqn), "127.0.0.1", 0)) {
            String url = "iscsi://127.0.0.1:" + target.port() + "/" + iqn + "/0";
            assertEquals(0, Main.run("vdi", "copy", "file://" + src, url));
            assertArrayEquals(data, Files.readAllBytes(lun), "the LUN holds the source");
            Path back = dir.resolve("back.raw");
            assertEquals(0, Main.run("vdi", "copy", url, "file://" + back));
            assertArrayEquals(data, Files.readAllBytes(back), "a copy of the LUN is the source");
        }
    }
}
