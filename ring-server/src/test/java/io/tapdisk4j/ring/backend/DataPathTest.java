package io.tapdisk4j.ring.backend;

import io.tapdisk4j.block.local.MemoryDevice;
import io.tapdisk4j.ring.blkif.Abi;
import io.tapdisk4j.ring.blkif.Blkif;
import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** Every data path, both ABIs, ring orders 0..4, direct and indirect: what is written reads back. */
class DataPathTest {

    @TempDir
    Path dir;

    static Stream<Arguments> combinations() {
        List<Arguments> a = new ArrayList<>();
        for (DataPath p : DataPath.values()) {
            for (Abi abi : Abi.values()) {
                a.add(Arguments.of(p, abi, abi == Abi.X86_64 ? 0 : 4, p == DataPath.PERSISTENT));
            }
        }
        for (int order = 1; order <= 3; order++) {
            a.add(Arguments.of(DataPath.COPY, Abi.X86_64, order, false));
        }
        a.add(Arguments.of(DataPath.PERSISTENT, Abi.X86_64, 2, false)); // frontend says no: falls back to copy
        return a.stream();
    }

    @ParameterizedTest(name = "{0} {1} order {2} persistent {3}")
    @MethodSource("combinations")
    void writesReadBack(DataPath path, Abi abi, int order, boolean persistent) throws Exception {
        FrontendOptions o = FrontendOptions.defaults().withAbi(abi).withRingOrder(order).withPersistent(persistent);
        try (SimRig rig = new SimRig(dir, new MemoryDevice("m", 64L << 20), o, path)) {
            assertEquals(path == DataPath.PERSISTENT && !persistent ? DataPath.COPY : path, rig.backend.dataPath());
            Random rnd = new Random(order * 31L + path.ordinal());
            // direct (2 pages, sub-page start), indirect (64 pages), one sector
            int[][] shapes = {{512, 8192 - 512}, {0, 64 * 4096}, {1024, 512}, {0, 11 * 4096}, {0, 256 * 4096}};
            long sector = 0;
            for (int[] shape : shapes) {
                int off = shape[0];
                int len = shape[1];
                try (GuestBuffer w = rig.front.allocateBuffer((off + len + 4095) / 4096);
                     GuestBuffer r = rig.front.allocateBuffer((off + len + 4095) / 4096)) {
                    byte[] data = new byte[len];
                    rnd.nextBytes(data);
                    w.put(off, data);
                    BlkifResponse wr = rig.front.write(0, sector, w, off, len).get(10, TimeUnit.SECONDS);
                    assertEquals(Blkif.RSP_OKAY, wr.status(), "write " + len);
                    r.fill((byte) 0x5a);
                    BlkifResponse rr = rig.front.read(0, sector, r, off, len).get(10, TimeUnit.SECONDS);
                    assertEquals(Blkif.RSP_OKAY, rr.status(), "read " + len);
                    assertArrayEquals(data, r.get(off, len), "data of " + len + " bytes at " + off);
                    if (off > 0) {
                        assertEquals(0x5a, r.get(0, 1)[0], "bytes outside the segment untouched");
                    }
                    sector += (len + 511) / 512 + 8;
                }
            }
            BackendStats s = rig.backend.stats();
            assertEquals(shapes.length, s.reads());
            assertEquals(shapes.length, s.writes());
            assertEquals(0, s.errors());
        }
    }

    @org.junit.jupiter.api.Test
    void persistentGrantsBeyondTheCacheFallBackToTransientMappings() throws Exception {
        FrontendOptions o = FrontendOptions.defaults().withPersistent(true).withRingOrder(1);
        try (SimRig rig = new SimRig(dir, new MemoryDevice("m", 64L << 20), o, DataPath.PERSISTENT)) {
            List<GuestBuffer> bufs = new ArrayList<>();
            Random rnd = new Random(5);
            List<byte[]> data = new ArrayList<>();
            // 5 x 256 persistent grants: more than the 1056 a ring keeps mapped.
            for (int i = 0; i < 5; i++) {
                GuestBuffer b = rig.front.allocateBuffer(256);
                byte[] d = new byte[256 * 4096];
                rnd.nextBytes(d);
                b.put(0, d);
                bufs.add(b);
                data.add(d);
                assertEquals(Blkif.RSP_OKAY, rig.front.write(0, i * 2048L, b, 0, d.length).get(10, TimeUnit.SECONDS).status());
            }
            for (int i = 4; i >= 0; i--) {
                GuestBuffer b = bufs.get(i);
                b.fill((byte) 0);
                assertEquals(Blkif.RSP_OKAY, rig.front.read(0, i * 2048L, b, 0, 256 * 4096).get(10, TimeUnit.SECONDS).status());
                assertArrayEquals(data.get(i), b.get(0, 256 * 4096), "buffer " + i);
            }
            bufs.forEach(GuestBuffer::close);
            assertEquals(0, rig.backend.stats().errors());
        }
    }

    /**
     * A request's new persistent grants share one mapping (one VMA for contiguous frames), so a few hundred
     * busy rings stay far below the process's vm.max_map_count; a page per mmap spent 1,056 per ring.
     */
    @org.junit.jupiter.api.Test
    void persistentGrantsOfOneRequestShareOneMapping() throws Exception {
        FrontendOptions o = FrontendOptions.defaults().withPersistent(true);
        try (SimRig rig = new SimRig(dir, new MemoryDevice("m", 64L << 20), o, DataPath.PERSISTENT)) {
            Path memoryFile = io.tapdisk4j.ring.hv.sim.SimLayout.memory(dir, 1).toRealPath();
            long before = mappingsOf(memoryFile);
            List<GuestBuffer> bufs = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                GuestBuffer b = rig.front.allocateBuffer(16);
                byte[] d = new byte[16 * 4096];
                new Random(i).nextBytes(d);
                b.put(0, d);
                bufs.add(b);
                for (int round = 0; round < 2; round++) {
                    assertEquals(Blkif.RSP_OKAY, rig.front.write(0, i * 128L, b, 0, d.length).get(10, TimeUnit.SECONDS).status());
                }
                b.fill((byte) 0);
                assertEquals(Blkif.RSP_OKAY, rig.front.read(0, i * 128L, b, 0, d.length).get(10, TimeUnit.SECONDS).status());
                assertArrayEquals(d, b.get(0, d.length), "buffer " + i);
            }
            long added = mappingsOf(memoryFile) - before;
            assertTrue(added >= 1 && added <= 8, "8 requests brought 128 new grants in " + added + " mappings");
            bufs.forEach(GuestBuffer::close);
        }
    }

    private static long mappingsOf(Path file) throws java.io.IOException {
        try (Stream<String> lines = java.nio.file.Files.lines(Path.of("/proc/self/maps"))) {
            return lines.filter(l -> l.endsWith(" " + file)).count();
        }
    }
}
