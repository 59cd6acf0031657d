package io.tapdisk4j.ring.backend;

import io.tapdisk4j.ring.blkif.Abi;
import io.tapdisk4j.ring.blkif.Blkif;
import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * What Linux xen-blkfront checks in every response, on every data path and ABI: the emulated frontend
 * disables its disk as blkfront does ("disabled for further use") when a response names the wrong
 * operation, and a real guest's I/O then hangs. Found on real Xen: indirect requests were answered with
 * operation INDIRECT (6) where blkfront expects the indirect_op (blkback answers with it).
 */
@Timeout(60)
class BlkfrontExpectationsTest {

    @TempDir
    Path dir;

    static Stream<Arguments> pathsAndAbis() {
        return Stream.of(DataPath.values()).flatMap(p -> Stream.of(Abi.values()).map(a -> Arguments.of(p, a)));
    }

    private static BlkifResponse get(CompletableFuture<BlkifResponse> f) throws Exception {
        try {
            return f.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new AssertionError("the emulated blkfront failed the request: " + e.getCause().getMessage(), e);
        }
    }

    @ParameterizedTest
    @MethodSource("pathsAndAbis")
    void indirectRequestsAreAnsweredWithTheirIndirectOperation(DataPath path, Abi abi) throws Exception {
        TestDevice d = new TestDevice(4 << 20, Set.of());
        FrontendOptions o = FrontendOptions.defaults().withAbi(abi).withPersistent(path == DataPath.PERSISTENT)
                .withMaxIndirectSegments(32);
        try (SimRig rig = new SimRig(dir, d, o, path);
             GuestBuffer out = rig.front.allocateBuffer(32);
             GuestBuffer in = rig.front.allocateBuffer(32)) {
            byte[] data = new byte[32 * 4096];
            for (int i = 0; i < data.length; i++) {
                data[i] = (byte) (i * 31 + 7);
            }
            out.put(0, data);
            // 32 segments: more than 11, so blkfront's defaults send it as INDIRECT.
            BlkifResponse w = get(rig.front.write(0, 64, out, 0, data.length));
            assertEquals(Blkif.OP_WRITE, w.operation());
            assertEquals(Blkif.RSP_OKAY, w.status());
            BlkifResponse r = get(rig.front.read(0, 64, in, 0, data.length));
            assertEquals(Blkif.OP_READ, r.operation());
            assertEquals(Blkif.RSP_OKAY, r.status());
            assertArrayEquals(data, in.get(0, data.length));
            // A refused indirect request is answered with its indirect_op too (blkback's fail_response).
            BlkifResponse refused = get(rig.front.read(0, (4 << 20) / 512 - 8, in, 0, data.length));
            assertEquals(Blkif.OP_READ, refused.operation());
            assertEquals(Blkif.RSP_ERROR, refused.status());
            assertNull(rig.front.disabledReason(0));
            assertTrue(Arrays.equals(data, in.get(0, data.length)), "a refused read leaves the buffer alone");
        }
    }
}
