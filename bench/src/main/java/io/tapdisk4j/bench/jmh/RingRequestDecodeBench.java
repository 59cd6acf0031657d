package io.tapdisk4j.bench.jmh;

import io.tapdisk4j.ring.blkif.Abi;
import io.tapdisk4j.ring.blkif.BlkifCodec;
import io.tapdisk4j.ring.blkif.BlkifLayout;
import io.tapdisk4j.ring.blkif.BlkifRequest;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Decoding one blkif request (11 segments) from a private copy of its ring slot, per ABI. */
@State(Scope.Thread)
public class RingRequestDecodeBench {

    @Param({"X86_64", "X86_32"})
    public String abi;

    private BlkifCodec codec;
    private MemorySegment slot;
    private MemorySegment copy;
    private BlkifRequest request;

    @Setup
    public void setup() {
        Abi a = Abi.valueOf(abi);
        codec = a.codec();
        BlkifRequest template = new BlkifRequest(BlkifLayout.MAX_SEGMENTS_PER_REQUEST);
        template.operation = 1;
        template.nrSegments = BlkifLayout.MAX_SEGMENTS_PER_REQUEST;
        template.id = 0x1234_5678_9abcL;
        template.sectorNumber = 1 << 20;
        for (int i = 0; i < template.nrSegments; i++) {
            template.gref[i] = 100 + i;
            template.firstSect[i] = 0;
            template.lastSect[i] = 7;
        }
        template.segmentsDecoded = template.nrSegments;
        slot = Arena.global().allocate(a.entrySize(), 8);
        copy = Arena.global().allocate(a.entrySize(), 8);
        codec.encode(template, slot);
        request = new BlkifRequest(BlkifLayout.MAX_SEGMENTS_PER_REQUEST);
    }

    /** What the ring server does per request: one copy out of shared memory, then decode the copy. */
    @Benchmark
    public BlkifRequest copyOutAndDecode() {
        MemorySegment.copy(slot, 0, copy, 0, slot.byteSize());
        codec.decode(copy, request);
        return request;
    }
}
