package io.tapdisk4j.ring.hv.sim;

import io.netty.channel.EventLoopGroup;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.ring.hv.EventChannel;
import io.tapdisk4j.ring.hv.GrantCopyBatch;
import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantMapping;
import io.tapdisk4j.ring.hv.GrantStatus;
import io.tapdisk4j.ring.hv.HypervisorException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

class SimHypervisorTest {

    @TempDir
    Path dir;

    @Test
    void filesFollowTheContract() throws Exception {
        try (SimGuest g = SimGuest.create(dir, 3, 16, 64)) {
            assertEquals(16 * 4096, Files.size(dir.resolve("dom3/memory")));
            assertEquals(64 * 8, Files.size(dir.resolve("dom3/grant-table")));
            int frame = g.allocateFrame();
            int ref = g.grant(frame, 0, true);
            assertTrue(ref >= 8, "refs 0..7 are reserved");
            ByteBuffer e = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            try (FileChannel c = FileChannel.open(dir.resolve("dom3/grant-table"))) {
                c.read(e, ref * 8L);
            }
            assertEquals(GrantStatus.GTF_PERMIT_ACCESS | GrantStatus.GTF_READONLY, e.getShort(0));
            assertEquals(0, e.getShort(2));
            assertEquals(frame, e.getInt(4));
            var port = g.allocatePort(0, () -> { });
            assertTrue(Files.exists(dir.resolve("dom3/evtchn/" + port.port() + ".sock")));
        }
    }

    @Test
    void grantCopyChecksEveryEntryAtCopyTime() throws Exception {
        try (SimGuest g = SimGuest.create(dir, 1, 16, 64); SimHypervisor hv = new SimHypervisor(dir);
             Arena a = Arena.ofConfined()) {
            int f = g.allocateFrame();
            g.frame(f).fill((byte) 7);
            int rw = g.grant(f, 0, false);
            int ro = g.grant(f, 0, true);
            int other = g.grant(f, 2, false);
            int badFrame = g.allocateRef();
            g.writeEntry(badFrame, 999, 0, GrantStatus.GTF_PERMIT_ACCESS);
            int revoked = g.grant(f, 0, false);
            g.revoke(revoked);
            int transitive = g.allocateRef();
            g.writeEntry(transitive, f, 0, 3);
            MemorySegment local = a.allocate(4096);
            GrantCopyBatch b = hv.newCopyBatch(16);
            b.fromGuest(1, rw, 0, local, 4096);
            b.toGuest(local, 1, ro, 0, 16);
            b.fromGuest(1, ro, 100, local, 16);
            b.fromGuest(1, other, 0, local, 16);
            b.fromGuest(1, badFrame, 0, local, 16);
            b.fromGuest(1, revoked, 0, local, 16);
            b.fromGuest(1, 64, 0, local, 16);
            b.fromGuest(1, rw, 4000, local, 200);
            b.fromGuest(9, rw, 0, local, 16);
            b.fromGuest(1, transitive, 0, local, 16);
            b.execute();
            assertEquals(GrantStatus.OKAY, b.status(0));
            assertEquals(7, local.get(ValueLayout.JAVA_BYTE, 4095));
            assertEquals(GrantStatus.PERMISSION_DENIED, b.status(1), "write through a read-only grant");
            assertEquals(GrantStatus.OKAY, b.status(2));
            assertEquals(GrantStatus.PERMISSION_DENIED, b.status(3), "granted to another domain");
            assertEquals(GrantStatus.BAD_PAGE, b.status(4));
            assertEquals(GrantStatus.PERMISSION_DENIED, b.status(5), "revoked");
            assertEquals(GrantStatus.BAD_GNTREF, b.status(6));
            assertEquals(GrantStatus.BAD_COPY_ARG, b.status(7), "crosses the page");
            assertEquals(GrantStatus.BAD_DOMAIN, b.status(8));
            assertEquals(GrantStatus.PERMISSION_DENIED, b.status(9), "not a permit_access entry");
            assertEquals(10, b.size());
            b.clear();
            assertEquals(0, b.size());
            // Revoked after being granted: the next copy fails at once.
            b.fromGuest(1, rw, 0, local, 16);
            g.revoke(rw);
            b.execute();
            assertEquals(GrantStatus.PERMISSION_DENIED, b.status(0));
        }
    }

    @Test
    void mapIsARealMappingAndUseAfterUnmapThrows() throws Exception {
        try (SimGuest g = SimGuest.create(dir, 1, 16, 64); SimHypervisor hv = new SimHypervisor(dir)) {
            int f1 = g.allocateFrame();
            int f2 = g.allocateFrame();
            int r1 = g.grant(f1, 0, false);
            int r2 = g.grant(f2, 0, true);
            GrantMapping m = hv.map(1, new int[]{r1}, false);
            m.page(0).set(ValueLayout.JAVA_BYTE, 10, (byte) 42);
            assertEquals(42, g.frame(f1).get(ValueLayout.JAVA_BYTE, 10), "shared with the guest");
            g.frame(f1).set(ValueLayout.JAVA_BYTE, 11, (byte) 43);
            assertEquals(43, m.page(0).get(ValueLayout.JAVA_BYTE, 11));
            m.close();
            assertThrows(IllegalStateException.class, () -> m.page(0).get(ValueLayout.JAVA_BYTE, 10));
            m.close();

            GrantException e = assertThrows(GrantException.class, () -> hv.map(1, new int[]{r1, r2}, false));
            assertEquals(GrantStatus.PERMISSION_DENIED, e.status(), "writable map of a read-only grant");
            GrantMapping ro = hv.map(1, new int[]{r1, r2}, true);
            assertEquals(2, ro.pageCount());
            assertThrows(IllegalArgumentException.class, () -> ro.page(1).set(ValueLayout.JAVA_BYTE, 0, (byte) 1));
            // Revoking a mapped grant does not unmap it (as with Xen: the mapping holds the page).
            g.revoke(r2);
            assertEquals(0, ro.page(1).get(ValueLayout.JAVA_BYTE, 0));
            ro.close();
            assertEquals(GrantStatus.BAD_DOMAIN,
                    assertThrows(GrantException.class, () -> hv.map(5, new int[]{r1}, true)).status());
        }
    }

    @Test
    void eventChannelsCarryNotificationsBothWays() throws Exception {
        try (SimGuest g = SimGuest.create(dir, 1, 4, 16); SimHypervisor hv = new SimHypervisor(dir)) {
            Semaphore toGuest = new Semaphore(0);
            Semaphore toBackend = new Semaphore(0);
            GuestPort port = g.allocatePort(0, toGuest::release);
            port.notifyBackend(); // before binding: stays pending
            EventChannel ch = hv.bindInterdomain(1, port.port(), toBackend::release);
            assertEquals(port.port(), ch.localPort());
            port.bound().get(5, TimeUnit.SECONDS);
            assertTrue(toBackend.tryAcquire(5, TimeUnit.SECONDS), "pending notification delivered on bind");
            ch.notifyRemote();
            assertTrue(toGuest.tryAcquire(5, TimeUnit.SECONDS));
            for (int i = 0; i < 100; i++) {
                port.notifyBackend();
            }
            assertTrue(toBackend.tryAcquire(5, TimeUnit.SECONDS), "coalesced, but at least one event");
            ch.close();
            assertThrows(HypervisorException.class, ch::notifyRemote);
            assertThrows(HypervisorException.class, () -> hv.bindInterdomain(1, 999, () -> { }));
        }
    }

    /**
     * Each port takes all its events on one vCPU thread, and a guest's ports spread over its vCPUs. With the
     * listening and the accepted socket each taking the group's next loop, ports bound one after the other
     * both delivered on the second vCPU.
     */
    @Test
    void eachPortDeliversOnOneVcpuAndPortsSpreadOverTheVcpus() throws Exception {
        EventLoopGroup vcpus = EventLoops.newGroup("test-vcpu", 2);
        try (SimGuest g = SimGuest.create(dir, 1, 4, 16, vcpus); SimHypervisor hv = new SimHypervisor(dir)) {
            List<Set<Thread>> threads = new ArrayList<>();
            for (int p = 0; p < 2; p++) {
                Set<Thread> seen = ConcurrentHashMap.newKeySet();
                threads.add(seen);
                Semaphore events = new Semaphore(0);
                GuestPort port = g.allocatePort(0, () -> {
                    seen.add(Thread.currentThread());
                    events.release();
                });
                EventChannel ch = hv.bindInterdomain(1, port.port(), () -> { });
                port.bound().get(5, TimeUnit.SECONDS);
                for (int i = 0; i < 3; i++) {
                    ch.notifyRemote();
                    assertTrue(events.tryAcquire(5, TimeUnit.SECONDS));
                }
            }
            assertEquals(1, threads.get(0).size(), "first port: one vCPU");
            assertEquals(1, threads.get(1).size(), "second port: one vCPU");
            assertNotEquals(threads.get(0), threads.get(1), "two ports of a guest with two vCPUs");
        } finally {
            vcpus.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
