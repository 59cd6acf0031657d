package io.tapdisk4j.safety.race;

import io.netty.buffer.ByteBuf;
import io.netty.util.concurrent.EventExecutor;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.testsupport.proxy.Direction;
import io.tapdisk4j.testsupport.proxy.FaultAction;
import io.tapdisk4j.testsupport.proxy.FaultPolicy;
import io.tapdisk4j.testsupport.proxy.FaultProxy;
import io.tapdisk4j.testsupport.proxy.ProxyConnection;
import io.tapdisk4j.safety.report.ScenarioTally;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

/**
 * The userspace form of the seed's "packet queued for retransmission": a request that sits in a
 * connection's outbound queue under backpressure while the same request is reissued on another connection
 * and completes.
 *
 * <p>One trial: the proxy stops reading every connection the client has open, so the client's socket
 * buffers fill (with filler writes of a seeded size first, from a few KiB to more than the kernel holds,
 * so that write A ends up either in the kernel's send buffer or in Netty's outbound buffer behind it);
 * the guest issues write A; the client gives up on the stalled connections ({@link Trigger}) and reissues
 * A on a new one, where it completes; the guest at once rewrites its page with B and issues write B; then
 * the proxy reads the stalled connections again and passes on whatever the client had left queued there
 * (the stale copy of A) to the server, catching the server's answer to it. No late consumer runs in these
 * trials: what reaches storage is what the network path itself did. The trial then checks storage as every
 * trial does, and this class records whether a stale copy reached the server and whether it carried the
 * bytes the guest had written when it issued A.
 */
final class OutboundQueueStall implements RaceRig.Faults {

    static final String SCENARIO = "outbound-queue";
    private static final Duration WAIT = Duration.ofSeconds(30);

    /** What makes the client give up on the stalled connections. */
    enum Trigger {
        /** The proxy ends the stream towards the client (a FIN, as a closing server sends): the client reconnects. */
        SERVER_CLOSES,
        /** Nothing: the client's own timeout (RPC retransmission rounds, iSCSI NOP-Out) drops the connection. */
        CLIENT_TIMEOUT
    }

    /** Part of a write: {@code bytes} at {@code at} bytes into it. */
    record Part(int at, byte[] bytes) {
    }

    /** Per protocol: the part of a write to [offset, offset + length) that one client-to-server frame carries. */
    interface WriteFrames {
        Part part(FaultPolicy.FrameEvent e, long offset, int length);
    }

    /** One trial's state, shared with the proxy's event loop through the watching policy. */
    private static final class Episode {
        final Set<ProxyConnection> stalled;
        final long offset;
        final byte[] a;
        final ConcurrentLinkedQueue<Boolean> staleCarriedIssuedData = new ConcurrentLinkedQueue<>();
        final Map<String, CompletableFuture<Void>> answers = new ConcurrentHashMap<>();
        volatile boolean triggered;
        volatile boolean escaped;
        volatile boolean resumed;
        Trigger trigger;
        long filler;

        Episode(Set<ProxyConnection> stalled, long offset, byte[] a) {
            this.stalled = stalled;
            this.offset = offset;
            this.a = a;
        }
    }

    private final FaultProxy proxy;
    private final LateConsumerDevice device;
    private final WriteFrames frames;
    private final long fillerStart;
    private final long fillerBytes;
    private final ScenarioTally scenario;
    private final SplittableRandom r;
    private final Trigger[] triggers;
    private final BooleanSupplier ready;
    private final Duration answerWait;
    private volatile Episode episode;
    private final List<CompletableFuture<Void>> fillers = new ArrayList<>();
    private CompletableFuture<Void> aHandedOver;
    private int trials;
    private long escapes;
    private long unanswered;

    /**
     * @param fillerStart  where the filler region starts (beyond every trial's sectors); it is
     *                     {@code fillerBytes} long
     * @param triggers     the triggers this backend has; trials alternate between them (seeded)
     * @param ready        true when the client has every connection up (checked before stalling them)
     * @param answerWait   how long to wait for the server's answer to a stale request (a server may drop
     *                     a duplicate silently)
     */
    OutboundQueueStall(FaultProxy proxy, LateConsumerDevice device, WriteFrames frames, long fillerStart,
                       long fillerBytes, ScenarioTally scenario, long seed, Trigger[] triggers, BooleanSupplier ready,
                       Duration answerWait) {
        this.proxy = proxy;
        this.device = device;
        this.frames = frames;
        this.fillerStart = fillerStart;
        this.fillerBytes = fillerBytes;
        this.scenario = scenario;
        this.r = new SplittableRandom(seed);
        this.triggers = triggers;
        this.ready = ready;
        this.answerWait = answerWait;
    }

    /** The proxy's policy while this scenario may run: watches stalled connections, else asks {@code next}. */
    FaultPolicy watching(FaultPolicy next) {
        return e -> {
            FaultAction a = watch(e);
            return a != null ? a : next.decide(e);
        };
    }

    private FaultAction watch(FaultPolicy.FrameEvent e) {
        Episode ep = episode;
        if (ep == null) {
            return null;
        }
        boolean stalled = ep.stalled.contains(e.connection());
        if (e.direction() == Direction.TO_SERVER) {
            Part p = frames.part(e, ep.offset, ep.a.length);
            if (p == null) {
                return null;
            }
            if (stalled && !ep.resumed) {
                ep.escaped = true; // read before the stall took hold: the first transmission went out normally
            } else if (stalled) {
                // Read after the stall ended: a stale copy, passed on to the server now.
                if (e.connection().serverSideOpen()) {
                    ep.staleCarriedIssuedData.add(Arrays.equals(p.bytes(), 0, p.bytes().length, ep.a, p.at(),
                            p.at() + p.bytes().length));
                    ep.answers.putIfAbsent(key(e.connection(), e.tag()), new CompletableFuture<>());
                }
            } else if (!ep.triggered) {
                ep.escaped = true; // A went out on a connection that was not stalled: no stale copy this time
            }
            return null;
        }
        if (stalled) {
            CompletableFuture<Void> answered = ep.answers.get(key(e.connection(), e.tag()));
            if (answered != null) {
                answered.complete(null);
                return FaultAction.DROP; // its client is gone; the answer proves the server ran the stale request
            }
        }
        return null;
    }

    private static String key(ProxyConnection c, long tag) {
        return c.index() + "/" + tag;
    }

    @Override
    public void beforeFirstWrite(RaceRig.Issued issued) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!ready.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("the client did not get its connections back within " + WAIT);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000); // polling a condition, not a timing
        }
        Set<ProxyConnection> open = proxy.connections().stream()
                .filter(c -> c.clientSideOpen() && c.serverSideOpen()).collect(Collectors.toUnmodifiableSet());
        if (open.isEmpty()) {
            throw new AssertionError("no open connection through the proxy to stall");
        }
        for (ProxyConnection c : open) {
            c.keepUpstream(); // the server's side is not what fails here: it must still get (and answer) the stale bytes
            c.stopReading(Direction.TO_SERVER);
        }
        proxy.countFault();
        Episode ep = new Episode(open, issued.sectorA() * 512, issued.a());
        episode = ep;
        // The first trial queues A right behind nothing (the kernel takes it); the second behind more than
        // the kernel holds (A waits in Netty's outbound buffer); then anything in between.
        long filler = switch (trials++) {
            case 0 -> 0;
            case 1 -> fillerBytes;
            default -> r.nextBoolean() ? 0 : r.nextLong(fillerBytes + 1) & ~0xfffL;
        };
        ep.filler = filler;
        BlockDevice storage = device.inner();
        for (long done = 0; done < filler; done += 1 << 20) {
            int n = (int) Math.min(1 << 20, filler - done);
            fillers.add(storage.write(fillerStart + done, Buffers.zeroes(n), false));
        }
        drainClientLoops(); // the filler is queued on the connections before A
        aHandedOver = device.nextWrite();
    }

    @Override
    public void whileFirstWriteInFlight(CompletableFuture<BlkifResponse> first) throws Exception {
        Episode ep = episode;
        aHandedOver.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        drainClientLoops();
        drainClientLoops(); // a send may schedule its flush as one more task
        ep.triggered = true;
        ep.trigger = triggers[r.nextInt(triggers.length)];
        if (ep.trigger == Trigger.SERVER_CLOSES) {
            for (ProxyConnection c : ep.stalled) {
                c.closeTowardsClient().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            }
        }
    }

    @Override
    public void afterReuse() throws Exception {
        Episode ep = episode;
        ep.resumed = true;
        for (ProxyConnection c : ep.stalled) {
            c.resumeReading(Direction.TO_SERVER);
        }
        for (ProxyConnection c : ep.stalled) {
            // The client closed it (or the server did): everything its socket still held has been read.
            c.clientSideClosed().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        }
        for (CompletableFuture<Void> answered : ep.answers.values()) {
            try {
                answered.get(answerWait.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException dropped) {
                unanswered++;
            }
        }
        for (ProxyConnection c : ep.stalled) {
            c.cut();
        }
        episode = null;
        CompletableFuture.allOf(fillers.toArray(CompletableFuture[]::new)).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        fillers.clear();
        if (Boolean.getBoolean("safety.debug")) { // -Dsafety.debug=true: one line per stalled trial
            System.out.println("[safety-debug] stall on " + ep.stalled + " filler " + ep.filler + " trigger " + ep.trigger
                    + ": stale parts " + ep.staleCarriedIssuedData + ", answers " + ep.answers.size() + ", escaped "
                    + ep.escaped);
        }
        if (ep.escaped) {
            escapes++;
            return;
        }
        scenario.trial();
        if (ep.staleCarriedIssuedData.isEmpty()) {
            scenario.recordNotDelivered();
        } else {
            scenario.recordDelivered(!ep.staleCarriedIssuedData.contains(false));
        }
    }

    @Override
    public boolean lateReplay() {
        return false;
    }

    /**
     * Trials where A's first transmission went out anyway: on a connection that was not stalled, or read
     * before the stall took hold (not counted as this scenario's).
     */
    long escapes() {
        return escapes;
    }

    /** Stale requests the server never answered (dropped as duplicates, or their connection ended). */
    long unanswered() {
        return unanswered;
    }

    /**
     * Prints what the scenario did in this row, writes the report's note and asserts: the scenario ran;
     * when {@code staleReachesServer}, a stale copy reached the server at least once (the first stalled
     * trial queues A where the kernel takes it); in the safe data paths no stale copy carried other data
     * than the guest issued. unsafe-map is not required to show the race here: the note says why not.
     */
    static void verdict(String backend, io.tapdisk4j.ring.backend.DataPath path, io.tapdisk4j.safety.report.Tally tally,
                        OutboundQueueStall stall, boolean staleReachesServer, String why) {
        ScenarioTally s = tally.scenario(SCENARIO);
        System.out.println("[safety] " + backend + " " + path.cliName() + " " + SCENARIO + ": " + s + ", "
                + stall.escapes() + " trials where A escaped the stall (not counted), " + stall.unanswered()
                + " stale requests unanswered");
        org.junit.jupiter.api.Assertions.assertTrue(s.trials() > 0, backend + " " + path.cliName()
                + ": the outbound-queue scenario never ran (A escaped the stall in " + stall.escapes() + " trials)");
        if (staleReachesServer) {
            org.junit.jupiter.api.Assertions.assertTrue(s.staleDelivered() > 0, backend + " " + path.cliName()
                    + ": no stale copy of a queued write ever reached the server; the scenario tested nothing");
        }
        if (path == io.tapdisk4j.ring.backend.DataPath.UNSAFE_MAP) {
            s.note(s.staleCarriedLaterData() > 0
                    ? s.staleCarriedLaterData() + " stale copies left in the outbound queue carried data the guest wrote"
                    + " after completion: the race, seen through the network path itself"
                    : "unsafe-map cannot show the race in this scenario: " + why);
        } else {
            org.junit.jupiter.api.Assertions.assertEquals(0, s.staleCarriedLaterData(), backend + " "
                    + path.cliName() + ": a stale copy left in the outbound queue carried other data than the guest"
                    + " issued (seed " + tally.seed() + ")");
        }
    }

    /** Why no client here can send a stale copy with later data from its outbound queue (the report's note). */
    static final String NETTY_DROPS_THE_QUEUE = "the client reissues a request only after the connection it"
            + " gave up on is closed, and Netty fails and releases that connection's outbound buffer (with its"
            + " references to the guest's pages) inside the close call, so nothing queued in user space is ever"
            + " written after the reissue, which can only complete later (it needs the server's answer on another"
            + " connection); the bytes that had reached the socket were copied by the kernel while the page still"
            + " held what the guest issued. The row's corruptions come from the late consumer (a queue that keeps"
            + " page references past completion, as a kernel retransmission queue does)";

    /**
     * Runs an empty task on every event loop of the shared group and waits for it: every task queued there
     * before (a request's send, its flush) has run.
     */
    static void drainClientLoops() throws Exception {
        List<CompletableFuture<Void>> done = new ArrayList<>();
        for (EventExecutor loop : EventLoops.shared()) {
            CompletableFuture<Void> f = new CompletableFuture<>();
            loop.execute(() -> f.complete(null));
            done.add(f);
        }
        CompletableFuture.allOf(done.toArray(CompletableFuture[]::new)).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    // ---- the write frames of each protocol ----

    /** NBD: an NBD_CMD_WRITE request at the offset; its payload follows the 28-byte header. */
    static Part nbdWrite(FaultPolicy.FrameEvent e, long offset, int length) {
        if (!e.kind().equals("NBD_CMD_WRITE")) {
            return null;
        }
        ByteBuf b = e.frame().bytes();
        int r = b.readerIndex();
        long at = b.getLong(r + 16);
        long n = b.getUnsignedInt(r + 24);
        if (at < offset || at + n > offset + length || b.readableBytes() < 28 + n) {
            return null;
        }
        byte[] data = new byte[(int) n];
        b.getBytes(r + 28, data);
        return new Part((int) (at - offset), data);
    }
}
