package io.tapdisk4j.ring.xen;

import io.tapdisk4j.ring.hv.GrantCopyBatch;
import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantStatus;
import io.tapdisk4j.ring.hv.HypervisorException;
import io.tapdisk4j.ring.hv.xen.XenHypervisor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the xen hypervisor does off a Xen dom0: opening fails clearly, and with character devices that are
 * not Xen's (/dev/null) every ioctl path runs through FFM for real and fails with the call named and the
 * errno the kernel gave, never a crash.
 */
class XenHypervisorTest {

    @TempDir
    Path tmp;

    /** A directory whose gntdev and evtchn are /dev/null: opens fine, every ioctl fails with ENOTTY. */
    static Path fakeDevices(Path dir) throws IOException {
        Files.createDirectories(dir);
        for (String name : new String[] {"gntdev", "evtchn"}) {
            if (!Files.exists(dir.resolve(name))) {
                Files.createSymbolicLink(dir.resolve(name), Path.of("/dev/null"));
            }
        }
        return dir;
    }

    /** Removes the /dev/null links so the temp-dir cleanup never follows one outside. */
    static void removeFakeDevices(Path root) throws IOException {
        try (var paths = Files.walk(root)) {
            for (Path p : paths.filter(Files::isSymbolicLink).toList()) {
                Files.delete(p);
            }
        }
    }

    @AfterEach
    void removeLinks() throws IOException {
        removeFakeDevices(tmp);
    }

    @Test
    void openWithoutXenDevicesFailsWithClearMessage() {
        HypervisorException e = assertThrows(HypervisorException.class,
                () -> XenHypervisor.open(tmp.resolve("no-such-dev-xen")));
        assertTrue(e.getMessage().contains("does not exist") && e.getMessage().contains("not a Xen dom0"),
                e.getMessage());
    }

    @Test
    void openOnThisMachineFailsUnlessItIsADom0() {
        // /dev/xen is absent on build machines; on a dom0 the open must succeed instead.
        assertEquals(Files.exists(Path.of("/dev/xen/gntdev")) && Files.exists(Path.of("/dev/xen/evtchn")),
                XenHypervisor.present());
        if (Files.isDirectory(XenHypervisor.DEFAULT_DEVICES)) {
            try (XenHypervisor xen = XenHypervisor.open()) {
                assertEquals("xen", xen.name());
            } catch (HypervisorException e) {
                throw new AssertionError("open on a dom0 failed", e);
            }
        } else {
            HypervisorException e = assertThrows(HypervisorException.class, XenHypervisor::open);
            assertTrue(e.getMessage().startsWith("/dev/xen does not exist"), e.getMessage());
        }
    }

    @Test
    void missingGntdevNamesTheDriver() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("xen"));
        Files.createSymbolicLink(dir.resolve("evtchn"), Path.of("/dev/null"));
        HypervisorException e = assertThrows(HypervisorException.class, () -> XenHypervisor.open(dir));
        assertTrue(e.getMessage().contains(dir.resolve("gntdev").toString()), e.getMessage());
        assertTrue(e.getMessage().contains("xen-gntdev driver"), e.getMessage());
    }

    @Test
    void ioctlFailuresNameTheCallAndErrno() throws Exception {
        try (XenHypervisor xen = XenHypervisor.open(fakeDevices(tmp.resolve("xen")));
             Arena arena = Arena.ofConfined()) {
            assertEquals("xen", xen.name());

            HypervisorException bind = assertThrows(HypervisorException.class,
                    () -> xen.bindInterdomain(1, 5, () -> { }));
            assertTrue(bind.getMessage().contains("IOCTL_EVTCHN_BIND_INTERDOMAIN"), bind.getMessage());
            assertTrue(bind.getMessage().contains("errno 25"), bind.getMessage()); // ENOTTY

            GrantException map = assertThrows(GrantException.class, () -> xen.map(1, new int[] {8, 9}, false));
            assertTrue(map.getMessage().contains("IOCTL_GNTDEV_MAP_GRANT_REF"), map.getMessage());
            assertEquals(GrantStatus.GENERAL_ERROR, map.status());

            GrantCopyBatch batch = xen.newCopyBatch(2);
            MemorySegment local = arena.allocate(4096);
            batch.fromGuest(1, 8, 0, local, 4096);
            assertEquals(GrantStatus.GENERAL_ERROR, batch.status(0), "a segment not yet copied never reads okay");
            HypervisorException copy = assertThrows(HypervisorException.class, batch::execute);
            assertTrue(copy.getMessage().contains("IOCTL_GNTDEV_GRANT_COPY of 1 segments"), copy.getMessage());
            batch.clear();
            assertEquals(0, batch.size());
            batch.execute(); // an empty batch makes no call
        }
    }

    @Test
    void copyBatchRefusesWhatTheKernelWouldRefuse() throws Exception {
        try (XenHypervisor xen = XenHypervisor.open(fakeDevices(tmp.resolve("xen")));
             Arena arena = Arena.ofConfined()) {
            GrantCopyBatch batch = xen.newCopyBatch(1);
            MemorySegment local = arena.allocate(8192);
            assertThrows(IllegalArgumentException.class, () -> batch.fromGuest(1, 8, 512, local, 4096),
                    "crosses the guest page");
            assertThrows(IllegalArgumentException.class, () -> batch.toGuest(local, 1, 8, 0, 0), "empty");
            assertThrows(IllegalArgumentException.class,
                    () -> batch.fromGuest(1, 8, 0, MemorySegment.ofArray(new byte[4096]), 4096), "heap memory");
            assertThrows(IllegalArgumentException.class, () -> batch.fromGuest(1, 8, 0, local.asSlice(0, 100), 512),
                    "local side too small");
            assertThrows(IllegalArgumentException.class, () -> batch.fromGuest(0x10000, 8, 0, local, 512), "domid");
            assertEquals(0, batch.size());
            batch.toGuest(local, 1, 8, 0, 4096);
            assertThrows(IllegalStateException.class, () -> batch.toGuest(local, 1, 9, 0, 512), "full");
            assertEquals(1, batch.capacity());
        }
    }

    @Test
    void closeStopsTheEventReaderAndRefusesFurtherUse() throws Exception {
        XenHypervisor xen = XenHypervisor.open(fakeDevices(tmp.resolve("xen")));
        GrantCopyBatch batch = xen.newCopyBatch(1);
        xen.close();
        assertFalse(xen.eventReaderAlive());
        assertThrows(IllegalStateException.class, () -> xen.newCopyBatch(1));
        try (Arena arena = Arena.ofConfined()) {
            batch.fromGuest(1, 8, 0, arena.allocate(512), 512);
            // The descriptor is closed (its number may already belong to another file): no ioctl is issued.
            HypervisorException e = assertThrows(HypervisorException.class, batch::execute);
            assertTrue(e.getMessage().contains("the device is closed"), e.getMessage());
        }
        xen.close(); // idempotent
    }
}
