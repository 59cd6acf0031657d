package io.tapdisk4j.ring.conformance;

import io.tapdisk4j.ring.blkif.BlkifLayout;
import io.tapdisk4j.ring.shared.BackRing;
import io.tapdisk4j.ring.shared.FrontRing;
import io.tapdisk4j.ring.shared.RingPages;
import io.tapdisk4j.ring.xen.CPrograms;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static io.tapdisk4j.ring.blkif.BlkifLayout.SRING_REQ_EVENT;
import static io.tapdisk4j.ring.blkif.BlkifLayout.SRING_REQ_PROD;
import static io.tapdisk4j.ring.blkif.BlkifLayout.SRING_RSP_EVENT;
import static io.tapdisk4j.ring.blkif.BlkifLayout.SRING_RSP_PROD;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Differential test of the backend's ring index rules against Xen's own ring.h macros: ring_macros.c
 * evaluates RING_HAS_UNCONSUMED_REQUESTS, RING_REQUEST_PROD_OVERFLOW, RING_REQUEST_CONS_OVERFLOW,
 * RING_PUSH_RESPONSES_AND_CHECK_NOTIFY and RING_FINAL_CHECK_FOR_REQUESTS on thousands of generated ring
 * states (indexes around u32 wrap-around, hostile producers), and {@link BackRing} must agree on each;
 * likewise RING_PUSH_REQUESTS_AND_CHECK_NOTIFY, RING_FREE_REQUESTS, RING_FULL and
 * RING_FINAL_CHECK_FOR_RESPONSES against {@link FrontRing}, which the blkfront emulator drives.
 */
class RingMacrosTest {

    private static final int CASES = 4000;

    @TempDir
    Path tmp;

    @Test
    void backRingAgreesWithRingHMacrosOnEveryState() throws Exception {
        Path exe = CPrograms.compile(tmp.resolve("ring_macros"), "ring_macros.c");
        CPrograms.Result r = CPrograms.run(List.of(exe.toString(), Integer.toString(CASES)), 30);
        assertEquals(0, r.exit(), r.output());
        String[] lines = r.output().split("\n");
        assertEquals(CASES, lines.length);

        List<String> failures = new ArrayList<>();
        int notified = 0;
        int finalChecksIdle = 0;
        int overflows = 0;
        int consOverflows = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment[] pages = new MemorySegment[4];
            for (int i = 0; i < pages.length; i++) {
                pages[i] = arena.allocate(BlkifLayout.PAGE_SIZE, BlkifLayout.PAGE_SIZE);
            }
            MemorySegment request = arena.allocate(BlkifLayout.X86_64_REQUEST_SIZE);
            MemorySegment response = arena.allocate(BlkifLayout.X86_64_RESPONSE_SIZE);
            for (String line : lines) {
                String[] io = line.split(" \\| ");
                long[] in = parse(io[0]);
                long[] want = parse(io[1]);
                int order = (int) in[0];
                MemorySegment[] ring = java.util.Arrays.copyOf(pages, 1 << order);
                for (MemorySegment p : ring) {
                    p.fill((byte) 0);
                }
                RingPages mem = new RingPages(ring);
                mem.setPlain(SRING_RSP_PROD, (int) in[1]);
                mem.setPlain(SRING_REQ_PROD, (int) in[2]);
                mem.setPlain(SRING_RSP_EVENT, (int) in[3]);
                mem.setPlain(SRING_REQ_EVENT, (int) in[4]);
                BackRing back = new BackRing(mem, BlkifLayout.X86_64_RING_ENTRY_SIZE);

                long unconsumed = back.unconsumedRequests(back.reqProd());
                boolean prodOverflow = back.requestProdOverflow(back.reqProd());
                for (long i = 0; i < in[5]; i++) {
                    back.takeRequest(request, BlkifLayout.X86_64_REQUEST_SIZE);
                }
                for (long i = 0; i < in[6]; i++) {
                    back.putResponse(response, BlkifLayout.X86_64_RESPONSE_SIZE);
                }
                boolean consOverflow = back.requestConsOverflow();
                boolean notify = back.pushResponsesAndCheckNotify();
                long rspProd = Integer.toUnsignedLong(mem.getPlain(SRING_RSP_PROD));
                boolean more = back.finalCheckForRequests();
                long reqEvent = Integer.toUnsignedLong(mem.getPlain(SRING_REQ_EVENT));

                long[] got = {unconsumed, prodOverflow ? 1 : 0, consOverflow ? 1 : 0, notify ? 1 : 0, rspProd,
                        more ? 1 : 0, reqEvent};
                if (!java.util.Arrays.equals(want, got)) {
                    failures.add(io[0] + " | ring.h " + io[1] + " | BackRing " + join(got));
                }
                notified += notify ? 1 : 0;
                finalChecksIdle += more ? 0 : 1;
                overflows += prodOverflow ? 1 : 0;
                consOverflows += consOverflow ? 1 : 0;
            }
        }
        if (!failures.isEmpty()) {
            fail(failures.size() + " of " + CASES + " ring states disagree (order rsp_prod req_prod rsp_event req_event"
                    + " take put | unconsumed prod_overflow cons_overflow notify rsp_prod more req_event):\n  "
                    + String.join("\n  ", failures.subList(0, Math.min(20, failures.size()))));
        }
        // The generated states exercise every branch of the rules.
        assertTrue(notified > 0 && notified < CASES, "notify both ways: " + notified);
        assertTrue(finalChecksIdle > 0 && finalChecksIdle < CASES, "final check both ways: " + finalChecksIdle);
        assertTrue(overflows > 0 && overflows < CASES, "producer overflow both ways: " + overflows);
        assertTrue(consOverflows > 0 && consOverflows < CASES, "consumer overflow both ways: " + consOverflows);
    }

    @Test
    void frontRingAgreesWithRingHMacrosOnEveryState() throws Exception {
        Path exe = CPrograms.compile(tmp.resolve("ring_macros"), "ring_macros.c");
        CPrograms.Result r = CPrograms.run(List.of(exe.toString(), Integer.toString(CASES), "front"), 30);
        assertEquals(0, r.exit(), r.output());
        String[] lines = r.output().split("\n");
        assertEquals(CASES, lines.length);

        List<String> failures = new ArrayList<>();
        int notified = 0;
        int full = 0;
        int more = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment[] pages = new MemorySegment[4];
            for (int i = 0; i < pages.length; i++) {
                pages[i] = arena.allocate(BlkifLayout.PAGE_SIZE, BlkifLayout.PAGE_SIZE);
            }
            MemorySegment request = arena.allocate(BlkifLayout.X86_64_REQUEST_SIZE);
            MemorySegment response = arena.allocate(BlkifLayout.X86_64_RESPONSE_SIZE);
            for (String line : lines) {
                String[] io = line.split(" \\| ");
                long[] in = parse(io[0]);
                long[] want = parse(io[1]);
                int order = (int) in[0];
                RingPages mem = new RingPages(java.util.Arrays.copyOf(pages, 1 << order));
                FrontRing front = new FrontRing(mem, BlkifLayout.X86_64_RING_ENTRY_SIZE, true);
                front.startAt((int) in[1]);
                mem.setPlain(SRING_REQ_EVENT, (int) in[2]);
                for (long i = 0; i < in[3]; i++) {
                    front.putRequest(request, BlkifLayout.X86_64_REQUEST_SIZE);
                }
                boolean notify = front.pushRequestsAndCheckNotify();
                mem.setRelease(SRING_RSP_PROD, (int) (in[1] + in[4]));
                for (long i = 0; i < in[5]; i++) {
                    front.takeResponse(response, BlkifLayout.X86_64_RESPONSE_SIZE);
                }
                int free = front.freeRequests();
                boolean isFull = free == 0;
                boolean hasMore = front.finalCheckForResponses();
                long rspEvent = Integer.toUnsignedLong(mem.getPlain(SRING_RSP_EVENT));
                long[] got = {notify ? 1 : 0, free, isFull ? 1 : 0, hasMore ? 1 : 0, rspEvent};
                if (!java.util.Arrays.equals(want, got)) {
                    failures.add(io[0] + " | ring.h " + io[1] + " | FrontRing " + join(got));
                }
                notified += notify ? 1 : 0;
                full += isFull ? 1 : 0;
                more += hasMore ? 1 : 0;
            }
        }
        if (!failures.isEmpty()) {
            fail(failures.size() + " of " + CASES + " front ring states disagree (order start req_event n m k | notify"
                    + " free full more rsp_event):\n  " + String.join("\n  ", failures.subList(0, Math.min(20,
                    failures.size()))));
        }
        assertTrue(notified > 0 && notified < CASES, "notify both ways: " + notified);
        assertTrue(full > 0 && full < CASES, "full both ways: " + full);
        assertTrue(more > 0 && more < CASES, "final check both ways: " + more);
    }

    private static long[] parse(String s) {
        String[] f = s.trim().split(" ");
        long[] v = new long[f.length];
        for (int i = 0; i < f.length; i++) {
            v[i] = Long.parseLong(f[i]);
        }
        return v;
    }

    private static String join(long[] v) {
        StringBuilder b = new StringBuilder();
        for (long x : v) {
            b.append(b.isEmpty() ? "" : " ").append(x);
        }
        return b.toString();
    }
}
