package io.tapdisk4j.app;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.testsupport.peers.Ganesha;
import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A thin VHD on an NFS storage repository, end to end: vdi create, write through nfs://, check, and QEMU's view. */
class VdiOnNfsTest {

    @Test
    void vhdOnNfsIsCreatedWrittenCheckedAndReadableByQemu() throws Exception {
        String qemuImg = Peers.require("qemu-img", "qemu-utils");
        try (Ganesha g = Ganesha.startStandalone()) {
            check(g, qemuImg);
        }
    }

    private static void check(Ganesha g, String qemuImg) throws Exception {
        String uri = g.url("vdi-on-nfs.vhd", "");
        assertEquals(0, Main.run("vdi", "create", uri, "--size", "64M", "--format", "vhd"));
        byte[] pattern = new byte[65536];
        Arrays.fill(pattern, (byte) 0x5a);
        try (BlockDevice d = BlockDevices.loadDefault().open(uri)) {
            assertEquals(64 << 20, d.size());
            d.write(1 << 20, Buffers.direct(pattern.length).writeBytes(pattern), false).get(30, TimeUnit.SECONDS);
            d.flush().get(30, TimeUnit.SECONDS);
            ByteBuf back = d.read(1 << 20, pattern.length).get(30, TimeUnit.SECONDS);
            try {
                assertArrayEquals(pattern, ByteBufUtil.getBytes(back));
            } finally {
                back.release();
            }
        }
        assertEquals(0, Main.run("vdi", "check", uri));
        assertEquals(0, Main.run("vdi", "info", uri, "--json"));
        Path file = g.export().resolve("vdi-on-nfs.vhd");
        Process p = new ProcessBuilder(Peers.require("qemu-io", "qemu-utils"), "-r", "-f", "vpc",
                "-c", "read -P 0x5a 1M 64k", file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(!out.contains("Pattern verification failed"), out);
        Process info = new ProcessBuilder(qemuImg, "info", "-f", "vpc", file.toString()).redirectErrorStream(true).start();
        String infoOut = new String(info.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(info.waitFor(60, TimeUnit.SECONDS));
        assertTrue(infoOut.contains("64 MiB"), infoOut);
    }
}
