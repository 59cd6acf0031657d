package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.testsupport.peers.Ganesha;
import io.tapdisk4j.testsupport.peers.GaneshaExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.concurrent.TimeUnit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code vdi snapshot} on an NFS storage repository (nfs-ganesha): the image is renamed with NFS RENAME and a
 * child takes its place. Contents are checked against raw models through the client, and QEMU reads the files
 * ganesha stores in its export directory.
 */
@ExtendWith(GaneshaExtension.class)
class VhdSnapshotOnNfsTest {

    static final long SIZE = 24L << 20;

    private final Ganesha ganesha;
    final BlockDevices devices = BlockDevices.loadDefault();
    final VdiOperations vdi = new VdiOperations(devices);

    VhdSnapshotOnNfsTest(Ganesha ganesha) {
        this.ganesha = ganesha;
    }

    void assertContents(String uri, byte[] model) throws Exception {
        Disks.assertImage(vdi, uri, model);
    }

    Path onDisk(String uri) {
        String path = DeviceUri.parse(uri).path();
        return ganesha.export().resolve(path.substring(path.lastIndexOf('/') + 1));
    }

    @Test
    void snapshotOnNfsRenamesAndTheChainReadsBack() throws Exception {
        String uri = ganesha.url("vm-" + System.nanoTime() + ".vhd", "");
        vdi.create(uri, SIZE, "vhd", false);
        byte[] m0 = new byte[(int) SIZE];
        try (BlockDevice d = devices.open(uri)) {
            Disks.scribble(d, m0, new Random(1), 30, 400_000, true);
        }

        String parent = vdi.snapshot(uri);
        assertTrue(parent.startsWith("nfs://127.0.0.1") && parent.contains(".snap-") && parent.endsWith(
                "?nfsport=" + ganesha.nfsPort() + "&mountport=" + ganesha.mountPort()), parent);
        Path parentFile = onDisk(parent);
        Path childFile = onDisk(uri);
        assertTrue(Files.exists(parentFile) && Files.exists(childFile), "the parent beside the new child");
        assertContents(uri, m0);
        assertContents(parent, m0);
        assertEquals(List.of(uri, parent), vdi.info(uri).chain());
        assertEquals("differencing", vdi.info(uri).type());

        byte[] parentBytes = Files.readAllBytes(parentFile);
        byte[] m1 = m0.clone();
        try (BlockDevice d = devices.open(uri)) {
            Disks.scribble(d, m1, new Random(2), 30, 400_000, true);
            Disks.scribble(d, m1, new Random(3), 5, 3000, false);
            VhdDevice child = assertInstanceOf(VhdDevice.class, d);
            assertTrue(child.parent().has(Capability.READ_ONLY), "the chain opens the parent read-only");
            BlockDeviceException ro = (BlockDeviceException) BlockDeviceException.unwrap(assertThrows(Exception.class,
                    () -> child.parent().write(0, Buffers.zeroes(512), false).orTimeout(1, TimeUnit.MINUTES).join()));
            assertEquals(BlockError.EROFS, ro.error());
        }
        assertContents(uri, m1);
        assertContents(parent, m0);
        assertArrayEquals(parentBytes, Files.readAllBytes(parentFile), "writes into the child left the parent alone");

        // QEMU reads the files in the export directory: the parent whole; the child's own layer (QEMU's vpc
        // driver opens a differencing VHD as a dynamic one, without its parent)
        Path raw = ganesha.export().getParent().resolve("m0-" + System.nanoTime() + ".raw");
        try {
            Files.write(raw, m0);
            VhdQemuInteropTest.qemuCheck(parentFile);
            Cmd.run(VhdQemuInteropTest.qemuImg(), "compare", "-f", "vpc", "-F", "raw", parentFile.toString(),
                    raw.toString()).ok();
            Files.write(raw, childLayer(uri, m1));
            Cmd.run(VhdQemuInteropTest.qemuImg(), "compare", "-f", "vpc", "-F", "raw", childFile.toString(),
                    raw.toString()).ok();
            Cmd.run(VhdQemuInteropTest.qemuIo(), "-r", "-f", "vpc", "-c", "read -v 0 512", childFile.toString()).ok();
        } finally {
            Files.deleteIfExists(raw);
        }

        // and back into one image on the same storage
        vdi.coalesce(uri, VdiProgress.NONE);
        assertContents(parent, m1);
        assertContents(uri, m1);
    }

    /** What the child holds itself: its sectors where it has them, zeroes elsewhere (as QEMU reads the file). */
    byte[] childLayer(String uri, byte[] model) throws Exception {
        byte[] layer = new byte[model.length];
        try (BlockDevice d = devices.open(uri, OpenOptions.readOnlyOptions())) {
            VhdDevice v = (VhdDevice) d;
            List<Extent> own = v.layerAllocation(0, v.size());
            assertTrue(own.stream().anyMatch(e -> !e.hole()), "the child holds data of its own");
            for (Extent e : own) {
                if (!e.hole()) {
                    System.arraycopy(model, (int) e.offset(), layer, (int) e.offset(), (int) e.length());
                }
            }
            // a block the child allocated holds zeroes (not the parent's data) where it was not written
            assertFalse(Arrays.equals(layer, model), "the parent shows through the child somewhere");
        }
        return layer;
    }
}
