package io.tapdisk4j.nfs.device;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.testsupport.peers.Ganesha;
import io.tapdisk4j.testsupport.peers.GaneshaExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static io.tapdisk4j.block.testing.DeviceIo.dom0;
import static io.tapdisk4j.block.testing.DeviceIo.get;
import static io.tapdisk4j.block.testing.DeviceIo.random;
import static io.tapdisk4j.block.testing.DeviceIo.readAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The nfs:// device against a real nfs-ganesha: data checked in the export's directory on disk. */
@ExtendWith(GaneshaExtension.class)
class NfsDeviceTest {

    private final Ganesha ganesha;
    private final NfsDeviceProvider provider = new NfsDeviceProvider();

    NfsDeviceTest(Ganesha ganesha) {
        this.ganesha = ganesha;
    }

    @Test
    void createWriteReadFlushResizeRemove() throws Exception {
        String name = "vdi-basic.raw";
        DeviceUri uri = DeviceUri.parse(ganesha.url(name, ""));
        Path onDisk = ganesha.export().resolve(name);
        byte[] data = random(3 * 1024 * 1024 + 4096, 1); // several wtmax chunks and a partial one
        try (BlockDevice dev = provider.create(uri, 8L << 20)) {
            assertTrue(Files.exists(onDisk));
            assertEquals(8L << 20, Files.size(onDisk));
            assertEquals(8L << 20, dev.size());
            get(dev.write(4096, dom0(data), false));
            get(dev.write(0, dom0(new byte[]{1, 2, 3, 4}), true));
            get(dev.flush());
            assertEquals(0, ((NfsBlockDevice) dev).uncommittedWrites());
            assertArrayEquals(data, readAll(dev, 4096, data.length));
            byte[] disk = Files.readAllBytes(onDisk);
            assertArrayEquals(data, Arrays.copyOfRange(disk, 4096, 4096 + data.length));
            assertArrayEquals(new byte[]{1, 2, 3, 4}, Arrays.copyOf(disk, 4));
            // Beyond what was written the file reads as zeroes.
            assertArrayEquals(new byte[4096], readAll(dev, (8L << 20) - 4096, 4096));

            get(dev.resize(16L << 20));
            assertEquals(16L << 20, dev.size());
            assertEquals(16L << 20, Files.size(onDisk));
            get(dev.resize(1L << 20));
            assertEquals(1L << 20, Files.size(onDisk));
            BlockDeviceException beyond = assertThrows(BlockDeviceException.class, () -> {
                try {
                    get(dev.read(1L << 20, 512));
                } catch (ExecutionException e) {
                    throw e.getCause();
                }
            });
            assertEquals(BlockError.EINVAL, beyond.error());
        }
        try (BlockDevice again = provider.open(uri, io.tapdisk4j.block.OpenOptions.DEFAULT)) {
            assertEquals(1L << 20, again.size());
            assertArrayEquals(Arrays.copyOf(data, 4096), readAll(again, 4096, 4096));
        }
        provider.remove(uri);
        assertFalse(Files.exists(onDisk));
    }

    @Test
    void renameKeepsTheFileAndNeverOverwrites() throws Exception {
        Files.write(ganesha.export().resolve("before.vhd"), new byte[]{4, 5, 6});
        Files.write(ganesha.export().resolve("occupied.vhd"), new byte[]{7});
        DeviceUri before = DeviceUri.parse(ganesha.url("before.vhd", ""));
        DeviceUri after = DeviceUri.parse(ganesha.url("after.vhd", ""));
        provider.rename(before, after);
        assertFalse(Files.exists(ganesha.export().resolve("before.vhd")));
        assertArrayEquals(new byte[]{4, 5, 6}, Files.readAllBytes(ganesha.export().resolve("after.vhd")));
        try (BlockDevice d = provider.open(after, io.tapdisk4j.block.OpenOptions.readOnlyOptions())) {
            assertArrayEquals(new byte[]{4, 5, 6}, readAll(d, 0, 3));
        }

        BlockDeviceException exists = assertThrows(BlockDeviceException.class,
                () -> provider.rename(after, DeviceUri.parse(ganesha.url("occupied.vhd", ""))));
        assertTrue(exists.getMessage().contains("exists"), exists.getMessage());
        assertArrayEquals(new byte[]{7}, Files.readAllBytes(ganesha.export().resolve("occupied.vhd")));
        BlockDeviceException missing = assertThrows(BlockDeviceException.class,
                () -> provider.rename(before, DeviceUri.parse(ganesha.url("x.vhd", ""))));
        assertTrue(missing.getMessage().contains("NFS3ERR_NOENT"), missing.getMessage());
        BlockDeviceException otherServer = assertThrows(BlockDeviceException.class,
                () -> provider.rename(after, DeviceUri.parse("nfs://127.0.0.2" + ganesha.export() + "/y.vhd")));
        assertEquals(BlockError.EINVAL, otherServer.error());
        assertTrue(Files.exists(ganesha.export().resolve("after.vhd")));
    }

    @Test
    void createRefusesExistingFile() throws Exception {
        Files.write(ganesha.export().resolve("exists.raw"), new byte[512]);
        DeviceUri uri = DeviceUri.parse(ganesha.url("exists.raw", ""));
        BlockDeviceException e = assertThrows(BlockDeviceException.class, () -> provider.create(uri, 4096));
        assertTrue(e.getMessage().contains("NFS3ERR_EXIST"), e.getMessage());
        assertEquals(512, Files.size(ganesha.export().resolve("exists.raw")));
    }

    @Test
    void manyConcurrentRequestsOverSeveralConnections() throws Exception {
        String name = "vdi-nconnect.raw";
        int blocks = 256;
        DeviceUri uri = DeviceUri.parse(ganesha.url(name, "nconnect=3"));
        byte[][] expect = new byte[blocks][];
        try (BlockDevice dev = provider.create(uri, blocks * 65536L)) {
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            for (int i = 0; i < blocks; i++) {
                expect[i] = random(65536, 100 + i);
                writes.add(dev.write(i * 65536L, dom0(expect[i]), false));
            }
            get(CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)));
            get(dev.flush());
            List<CompletableFuture<ByteBuf>> reads = new ArrayList<>();
            for (int i = 0; i < blocks; i++) {
                reads.add(dev.read(i * 65536L, 65536));
            }
            for (int i = 0; i < blocks; i++) {
                ByteBuf b = get(reads.get(i));
                try {
                    assertArrayEquals(expect[i], ByteBufUtil.getBytes(b), "block " + i);
                } finally {
                    b.release();
                }
            }
            NfsBlockDevice nfs = (NfsBlockDevice) dev;
            assertEquals(3, nfs.connectionCount());
        }
        byte[] disk = Files.readAllBytes(ganesha.export().resolve(name));
        for (int i = 0; i < blocks; i++) {
            assertArrayEquals(expect[i], Arrays.copyOfRange(disk, i * 65536, (i + 1) * 65536), "on disk, block " + i);
        }
    }

    @Test
    void portsFoundThroughThePortmapperAndExportByPrefix() throws Exception {
        Path sub = Files.createDirectories(ganesha.export().resolve("sr1/sub"));
        Files.write(sub.resolve("pm.raw"), random(8192, 7));
        ganesha.ensureRegistered();
        // No nfsport/mountport: GETPORT from rpcbind, where ganesha registered its ports.
        try (BlockDevice dev = BlockDevices.loadDefault().open("nfs://127.0.0.1" + sub + "/pm.raw")) {
            assertEquals(8192, dev.size());
            assertArrayEquals(random(8192, 7), readAll(dev, 0, 8192));
        }
    }

    @Test
    void listsDirectoryWithSizeAndFormat() throws Exception {
        Path sr = Files.createDirectories(ganesha.export().resolve("sr-list"));
        Files.write(sr.resolve("a.raw"), new byte[4096]);
        byte[] vhd = new byte[3 * 512];
        System.arraycopy("conectix".getBytes(), 0, vhd, vhd.length - 512, 8);
        Files.write(sr.resolve("b.vhd"), vhd);
        Files.createDirectories(sr.resolve("subdir"));
        List<NfsDirectory.Vdi> list = NfsDirectory.list(ganesha.url(sr, "", ""));
        assertEquals(List.of(new NfsDirectory.Vdi("a.raw", 4096, "raw"), new NfsDirectory.Vdi("b.vhd", 1536, "vhd")), list);
        List<String> names = provider.list(DeviceUri.parse(ganesha.url(sr, "", "")));
        assertEquals(List.of("a.raw", "b.vhd", "subdir"), names.stream().sorted().toList());
    }

    @Test
    void closedFromAnEventLoopThreadFlushesWithoutBlockingIt() throws Exception {
        String name = "close-on-loop.raw";
        BlockDevice dev = provider.create(DeviceUri.parse(ganesha.url(name, "")), 65536);
        get(dev.write(0, dom0(random(65536, 9)), false));
        assertEquals(1, ((NfsBlockDevice) dev).uncommittedWrites());
        // Closing from the thread that reads the device's replies must not wait for those replies.
        NfsBlockDevice nfs = (NfsBlockDevice) dev;
        var loop = nfs.session().nfs().connections().getFirst().eventLoop();
        loop.submit(dev::close).get(30, TimeUnit.SECONDS);
        nfs.closeFuture().get(30, TimeUnit.SECONDS);
        assertEquals(0, nfs.uncommittedWrites());
        Path onDisk = ganesha.export().resolve(name);
        assertArrayEquals(random(65536, 9), Files.readAllBytes(onDisk));
    }
}
