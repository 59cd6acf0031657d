package io.tapdisk4j.ring.xenbus;

import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static io.tapdisk4j.ring.xenbus.XenbusHandshakeTest.disk;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code ctl pause}/{@code resume}: the backend unbinds and rebinds the frontend's event channel. */
class XenbusPauseTest {

    @TempDir
    Path dir;

    @Test
    void ctlPauseHoldsRequestsOnTheRingUntilResume() throws Exception {
        Path disk = disk(dir, "d.raw", 2);
        try (XenbusRig rig = new XenbusRig(dir, DataPath.COPY)) {
            VbdId id = new VbdId(5, 768);
            Toolstack.createVbd(rig.xs, id, "file://" + disk, false);
            BlkfrontXenbus f = rig.keep(BlkfrontXenbus.connect(rig.xs, rig.guest(5), id, FrontendOptions.defaults(),
                    XenbusRig.TIMEOUT));
            assertEquals(id + " paused", rig.tapback.pause(id).get(10, TimeUnit.SECONDS));
            assertEquals("paused", rig.tapback.device(5, 768).orElseThrow().phase());
            assertEquals(XenbusState.CONNECTED, f.backendState()); // the guest does not notice
            try (GuestBuffer w = f.emulator().allocateBuffer(1)) {
                w.put(0, new byte[]{42});
                var pending = f.emulator().write(0, 0, w, 0, 4096); // waits on the ring while paused
                assertEquals(id + " resumed", rig.tapback.resume(id).get(10, TimeUnit.SECONDS));
                f.emulator().port(0).notifyBackend();
                assertTrue(pending.get(10, TimeUnit.SECONDS).ok());
            }
            assertEquals(42, Files.readAllBytes(disk)[0]);
            assertEquals("connected", rig.tapback.device(5, 768).orElseThrow().phase());
            assertTrue(rig.tapback.resume(id).handle((v, e) -> e != null).get(10, TimeUnit.SECONDS));
        }
    }

}
