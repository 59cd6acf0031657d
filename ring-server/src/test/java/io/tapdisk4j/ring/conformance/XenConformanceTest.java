package io.tapdisk4j.ring.conformance;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.ring.backend.BackendSpec;
import io.tapdisk4j.ring.backend.BlkifBackend;
import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.blkif.Abi;
import io.tapdisk4j.ring.hv.sim.SimHypervisor;
import io.tapdisk4j.ring.xen.CPrograms;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Conformance against a frontend that is not ours: blkfront_conformance.c, built with gcc from Xen's own
 * ring.h/blkif.h macros, acts as a guest through the simulated hypervisor's files and sockets and drives
 * the ring server (data patterns, sub-page and multi-segment requests, a full ring in flight, flush,
 * barrier, indirect, discard, hostile requests), in both ABIs, with one-page and multi-page rings and
 * on every data path. Until the xenstore handshake attaches devices, the test reads the ring-ref
 * and event channel the C guest prints and attaches the device with {@link BlkifBackend#start}.
 */
class XenConformanceTest {

    private static final int DOMID = 3;
    private static final long DEVICE_BYTES = 1 << 20;
    private static final long SECTORS = DEVICE_BYTES / 512;

    /** Every case blkfront_conformance.c runs, in order; each must report "ok". */
    static final List<String> CASES = List.of(
            "write_read_page", "multi_segment_11", "sub_page_segment", "sub_page_multi_segment", "flush_diskcache",
            "write_barrier", "full_ring_in_flight", "indirect_write_read_32_segments",
            "indirect_above_advertised_maximum",
            "discard", "discard_secure_unsupported", "discard_beyond_device", "discard_nr_sectors_wraps",
            "bad_gref_beyond_table", "revoked_gref", "gref_for_other_domain", "gref_frame_beyond_memory",
            "read_into_readonly_grant", "read_into_readonly_grant_untouched", "write_from_readonly_grant",
            "nr_segments_0_read", "nr_segments_0_write", "nr_segments_12", "nr_segments_255", "sector_at_device_end",
            "sector_straddles_device_end", "sector_wraps_u64", "last_sect_before_first_sect", "last_sect_8",
            "first_sect_8", "unknown_operation_42", "reserved_operation_4", "indirect_zero_segments",
            "indirect_too_many_segments", "indirect_nested_indirect", "failed_read_leaks_nothing",
            "ring_survives_hostile_requests", "responses_well_formed");

    static final Pattern HELLO = Pattern.compile(
            "frontend ring-refs=([\\d,]+) event-channel=(\\d+) protocol=(\\S+) ring-size=(\\d+)");

    /** The C guest, built once per ABI. */
    @TempDir
    static Path build;
    private static Path x86_64;
    private static Path x86_32;

    @TempDir
    Path tmp;

    @BeforeAll
    static void compile() throws Exception {
        x86_64 = CPrograms.compile(build.resolve("blkfront_conformance"), "blkfront_conformance.c", "-lxenstore");
        x86_32 = CPrograms.compile(build.resolve("blkfront_conformance_x86_32"), "blkfront_conformance.c",
                "-DABI_X86_32", "-lxenstore");
    }

    /** Entries per ring of 2^order pages (__RING_SIZE): the same for both ABIs (112- and 108-byte entries). */
    private static final int[] RING_SIZE = {32, 64, 128, 256, 512};

    @ParameterizedTest(name = "{0}, ring page order {1}, {2}")
    @CsvSource({"x86_64-abi, 0, COPY", "x86_64-abi, 4, COPY", "x86_32-abi, 0, COPY", "x86_32-abi, 2, COPY",
            "x86_64-abi, 0, MAP_COPY", "x86_64-abi, 1, PERSISTENT", "x86_32-abi, 0, PERSISTENT",
            "x86_64-abi, 0, UNSAFE_MAP"})
    void cFrontendBuiltFromXenHeadersPassesEveryCase(String protocol, int order, DataPath dataPath) throws Exception {
        Path exe = protocol.equals("x86_32-abi") ? x86_32 : x86_64;
        Path sim = Files.createDirectories(tmp.resolve("sim"));
        Path disk = tmp.resolve("disk.raw");
        try (var ch = java.nio.channels.FileChannel.open(disk, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(0);
            ch.write(java.nio.ByteBuffer.allocate(1), DEVICE_BYTES - 1);
        }

        ProcessBuilder pb = new ProcessBuilder(exe.toString(), sim.toString(), Integer.toString(DOMID),
                Long.toString(SECTORS), Integer.toString(order), "hook").redirectError(ProcessBuilder.Redirect.INHERIT);
        // What the xenbus backend would advertise as feature-max-indirect-segments for this spec.
        pb.environment().put("MAX_INDIRECT", Integer.toString(BlkifBackend.DEFAULT_MAX_INDIRECT_SEGMENTS));
        pb.environment().put("PERSISTENT", dataPath == DataPath.PERSISTENT ? "1" : "0");
        Process guest = pb.start();
        int ringSize;
        List<String> lines = new ArrayList<>();
        try (SimHypervisor hv = new SimHypervisor(sim);
             BlockDevice device = BlockDevices.loadDefault().open("file://" + disk)) {
            BufferedReader out = new BufferedReader(new InputStreamReader(guest.getInputStream(), StandardCharsets.UTF_8));
            String hello = CompletableFuture.supplyAsync(() -> readLine(out)).get(30, TimeUnit.SECONDS);
            Matcher m = hello == null ? null : HELLO.matcher(hello);
            if (m == null || !m.matches()) {
                fail("the C guest did not announce its ring: " + hello);
            }
            assertEquals(protocol, m.group(3));
            ringSize = Integer.parseInt(m.group(4));
            assertEquals(RING_SIZE[order], ringSize, "__RING_SIZE of 2^" + order + " pages of blkif entries");
            int[] ringRefs = Arrays.stream(m.group(1).split(",")).mapToInt(Integer::parseInt).toArray();
            assertEquals(1 << order, ringRefs.length);
            int port = Integer.parseInt(m.group(2));

            // Test-only attach hook: what the xenbus backend will do after reading ring-ref and event-channel.
            try (BlkifBackend backend = BlkifBackend.start(BackendSpec.builder(hv, DOMID, device)
                    .name("conformance").queue(ringRefs, port).abi(Abi.fromProtocol(m.group(3)))
                    .dataPath(dataPath).frontendPersistent(dataPath == DataPath.PERSISTENT)
                    .allowUnsafe(dataPath == DataPath.UNSAFE_MAP).build())) {
                assertEquals(dataPath, backend.dataPath());
                OutputStream in = guest.getOutputStream();
                in.write("go\n".getBytes(StandardCharsets.US_ASCII));
                in.flush();
                CompletableFuture<Void> rest = CompletableFuture.runAsync(() -> {
                    for (String line; (line = readLine(out)) != null; ) {
                        lines.add(line);
                    }
                });
                rest.get(120, TimeUnit.SECONDS);
                assertTrue(guest.waitFor(30, TimeUnit.SECONDS), "the C guest did not exit");
                assertTrue(backend.shutdown().getNow(null) == null,
                        "the backend shut the device down: " + backend.shutdown().getNow(null));
            }
        } finally {
            guest.destroyForcibly();
        }

        String transcript = String.join("\n", lines);
        Map<String, String> results = new LinkedHashMap<>();
        for (String line : lines) {
            if (line.startsWith("ok ")) {
                results.put(line.substring(3), "ok");
            } else if (line.startsWith("fail ")) {
                int colon = line.indexOf(':');
                results.put(line.substring(5, colon), line.substring(colon + 1).trim());
            }
        }
        List<String> failures = new ArrayList<>();
        for (String c : CASES) {
            String r = results.get(c);
            if (!"ok".equals(r)) {
                failures.add(c + ": " + (r == null ? "not reported" : r));
            }
        }
        assertEquals(List.of(), failures, "C frontend transcript:\n" + transcript);
        assertEquals(CASES, List.copyOf(results.keySet()), "cases reported, in order");
        assertEquals("summary " + CASES.size() + " 0", lines.getLast());
        assertEquals(0, guest.exitValue());

        assertDiskHoldsExactlyWhatTheGoodRequestsWrote(disk, ringSize, dataPath != DataPath.PERSISTENT, false);
    }

    /** The whole device against an image built from the cases' patterns: no hostile write reached it. */
    static void assertDiskHoldsExactlyWhatTheGoodRequestsWrote(Path disk, int ringSize, boolean readOnlyGrantWrote,
                                                              boolean secondQueueWrote) throws Exception {
        byte[] expected = new byte[(int) DEVICE_BYTES];
        put(expected, 16, 8, 1);       // write_read_page
        put(expected, 64, 88, 2);      // multi_segment_11
        put(expected, 300, 4, 3);      // sub_page_segment
        put(expected, 400, 10, 4);     // sub_page_multi_segment
        put(expected, 500, 8, 6);      // write_barrier
        put(expected, 1024, ringSize, 7); // full_ring_in_flight: one sector per ring entry
        if (readOnlyGrantWrote) {
            put(expected, 700, 8, 8);  // write_from_readonly_grant
        }
        put(expected, 1664, 256, 11);  // indirect_write_read_32_segments
        if (secondQueueWrote) {
            put(expected, 1950, 16, 12); // queue1_write_read
        }
        // discard: sectors 1600..1607 were written (seed 10), then discarded: the file punches a hole (zeroes)
        byte[] actual = Files.readAllBytes(disk);
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < actual.length; i++) {
            if (actual[i] != expected[i]) {
                fail("device byte " + i + " (sector " + i / 512 + ") is " + (actual[i] & 0xff) + ", expected "
                        + (expected[i] & 0xff));
            }
        }
    }

    /** The C program's pattern(): data written with seed s at disk offset off. */
    private static void put(byte[] image, long sector, int sectors, int seed) {
        for (long off = sector * 512; off < (sector + sectors) * 512; off++) {
            image[(int) off] = (byte) (off ^ (off >>> 8) ^ (off >>> 16) ^ (seed * 37L));
        }
    }

    private static String readLine(BufferedReader r) {
        try {
            return r.readLine();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
