package io.tapdisk4j.iscsi.device;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.iscsi.scsi.Cdb;
import io.tapdisk4j.iscsi.scsi.ScsiStatus;
import io.tapdisk4j.iscsi.session.IscsiSession;
import io.tapdisk4j.iscsi.session.ScsiCommand;
import io.tapdisk4j.iscsi.session.ScsiCommandException;
import io.tapdisk4j.iscsi.session.ScsiResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The writer lock on an iSCSI LUN: a SCSI-3 persistent reservation (SPC-4 5.13) of type WRITE EXCLUSIVE, so
 * that the target itself refuses every other initiator's writes while reads go on. The reservation key names
 * the holder: {@code 0x7434} ("t4"), a 16-bit tag of the host name, the process id (22 bits) and which of the
 * process's opens it is (10 bits), so that a second writer can say who holds the LUN and whether that process
 * is known dead (same host, no such process, or this process with no open device holding the key).
 *
 * <p>Taking it: REGISTER our key, RESERVE; a RESERVATION CONFLICT means another holder, read with READ
 * RESERVATION. A dead holder is preempted (PREEMPT with its key) only when the user said so ({@code --force});
 * a holder on another host cannot be checked from here, so there {@code --force} is the user's word that it is
 * dead. Otherwise our registration is removed again and the open fails naming the holder. Closing releases the
 * reservation and removes the registration. Registrations belong to the I_T nexus, which an ERL 0 session
 * reinstatement keeps (same initiator name and ISID). A target without persistent reservations (it answers
 * PERSISTENT RESERVE OUT as unsupported) cannot be locked: the open goes on with a warning.
 */
public final class LunWriterLock {

    private static final Logger LOG = LoggerFactory.getLogger(LunWriterLock.class);

    static final int WRITE_EXCLUSIVE = 1;
    static final long MAGIC = 0x7434L;
    private static final long PID_MASK = (1L << 22) - 1; // Linux's pid_max is at most 2^22
    private static final AtomicInteger OPENS = new AtomicInteger();
    /** The keys this process's open devices hold: any other key of this process is a leftover. */
    private static final Set<Long> HELD = ConcurrentHashMap.newKeySet();
    private static final int REGISTER = 0;
    private static final int RESERVE = 1;
    private static final int RELEASE = 2;
    private static final int PREEMPT = 4;
    private static final int REGISTER_AND_IGNORE_EXISTING_KEY = 6;
    private static final int READ_RESERVATION = 1;

    private final IscsiSession session;
    private final int lun;
    private final IscsiUrl url;
    private final String where;
    private final long key;
    /** The session's reconnect count when the reservation was last taken on its current connection. */
    private int takenAtReconnect;

    private LunWriterLock(IscsiSession session, int lun, IscsiUrl url, long key) {
        this.session = session;
        this.lun = lun;
        this.url = url;
        this.where = url.display();
        this.key = key;
        this.takenAtReconnect = session.reconnects();
    }

    /** A new key of this process: "t4", the host tag, the pid, and which of its opens (so each is told apart). */
    static long ownKey() {
        return key(hostTag(), ProcessHandle.current().pid(), OPENS.incrementAndGet());
    }

    /** The key of open number {@code open} (10 bits) of a tapdisk4j process {@code pid} (22 bits) on this host. */
    public static long keyOnThisHost(long pid, int open) {
        return key(hostTag(), pid, open);
    }

    static long key(int hostTag, long pid, int open) {
        return MAGIC << 48 | (long) (hostTag & 0xffff) << 32 | (pid & PID_MASK) << 10 | (open & 0x3ff);
    }

    static int hostTag() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            host = System.getenv().getOrDefault("HOSTNAME", "localhost");
        }
        return host.hashCode() & 0xffff;
    }

    /**
     * Takes the lock, or fails naming the holder. {@code breakStale}: preempt a holder known or said to be dead.
     * Null when the target has no persistent reservations (it refuses the command as unsupported): such a LUN
     * cannot be locked, which is logged, and the open goes on as before.
     */
    static LunWriterLock acquire(IscsiSession session, int lun, IscsiUrl url, boolean breakStale) throws IOException {
        LunWriterLock lock = new LunWriterLock(session, lun, url, ownKey());
        String where = lock.where;
        try {
            lock.out(REGISTER, 0, 0, lock.key);
        } catch (ScsiCommandException e) {
            if (e.sense().unsupportedCommand()) {
                LOG.warn("{}: the target has no persistent reservations ({}); the LUN is not locked against other "
                        + "writers", where, e.getMessage());
                return null;
            }
            throw e;
        }
        try {
            lock.out(RESERVE, WRITE_EXCLUSIVE, lock.key, 0);
            HELD.add(lock.key);
            return lock;
        } catch (ScsiCommandException e) {
            if (e.status() != ScsiStatus.RESERVATION_CONFLICT) {
                lock.unregister();
                throw e;
            }
        }
        Holder holder = lock.readReservation();
        // A leftover of this very process (a device that could not release, its target unreachable then) is
        // certainly dead: taken over without --force.
        if (holder != null && (holder.ownLeftover() || (breakStale && !holder.aliveHere()))) {
            LOG.warn("{}: preempting the reservation of {}{}", where, holder, holder.ownLeftover() ? "" : " (--force)");
            lock.out(PREEMPT, holder.type, lock.key, holder.key);
            HELD.add(lock.key);
            return lock;
        }
        lock.unregister();
        String who = holder == null ? "another initiator (its reservation ended while we looked; try again)"
                : holder.toString();
        String hint = holder != null && !holder.aliveHere()
                ? "; if that holder is dead, --force preempts its reservation" : "";
        throw new BlockDeviceException(BlockError.EBUSY, where + " is locked by another writer: " + who + hint);
    }

    /**
     * Releases the reservation and removes our registration; failures are logged (the target may be gone). After a
     * reconnect the reservation is first taken over to this connection, or RELEASE would leave it to the old one.
     */
    void release() {
        HELD.remove(key);
        try {
            if (session.reconnects() != takenAtReconnect) {
                regainNow();
            }
            out(RELEASE, WRITE_EXCLUSIVE, key, 0);
        } catch (IOException | RuntimeException e) {
            LOG.warn("{}: could not release the reservation: {}", where, e.getMessage());
        }
        unregister();
    }

    long key() {
        return key;
    }

    /** Whether {@code failure} is a RESERVATION CONFLICT. */
    static boolean conflict(Throwable failure) {
        return BlockDeviceException.unwrap(failure) instanceof ScsiCommandException e
                && e.status() == ScsiStatus.RESERVATION_CONFLICT;
    }

    /**
     * Takes the reservation again after a write met a RESERVATION CONFLICT, off the event loop. Some targets (tgtd)
     * bind registrations to the session rather than the initiator port, so a reinstated session holds nothing:
     * register again, and take the reservation over from our own old registration (PREEMPT of our key). Without
     * a reconnect since the reservation was taken, the conflict means another holder preempted us: that fails,
     * naming it.
     */
    CompletableFuture<Void> regain() {
        return CompletableFuture.runAsync(() -> {
            try {
                regainNow();
            } catch (IOException e) {
                throw new CompletionException(e);
            }
        });
    }

    private BlockDeviceException lostTo(Holder holder) {
        return new BlockDeviceException(BlockError.EBUSY, where + " lost its writer lock to "
                + (holder == null ? "another initiator" : holder.toString()));
    }

    private synchronized void regainNow() throws IOException {
        int reconnects = session.reconnects();
        if (reconnects == takenAtReconnect) {
            Holder holder = readReservation();
            if (holder == null || holder.key != key) {
                throw lostTo(holder);
            }
            return; // still ours on this connection: the conflict was something else
        }
        LOG.info("{}: taking the reservation again after a reconnect", where);
        out(REGISTER_AND_IGNORE_EXISTING_KEY, 0, 0, key);
        try {
            out(RESERVE, WRITE_EXCLUSIVE, key, 0);
        } catch (ScsiCommandException e) {
            if (e.status() != ScsiStatus.RESERVATION_CONFLICT) {
                throw e;
            }
            Holder holder = readReservation();
            if (holder == null || holder.key != key) {
                throw lostTo(holder);
            }
            out(PREEMPT, WRITE_EXCLUSIVE, key, key);
        }
        takenAtReconnect = reconnects;
    }

    private void unregister() {
        try {
            out(REGISTER, 0, key, 0);
        } catch (IOException | RuntimeException e) {
            LOG.warn("{}: could not remove the registration: {}", where, e.getMessage());
        }
    }

    /** The holder of the reservation now, null when there is none. */
    private Holder readReservation() throws IOException {
        byte[] cdb = Cdb.persistentReserveIn(READ_RESERVATION, 24);
        ScsiResult r = IscsiBlockDevice.await(session.execute(ScsiCommand.read(lun, cdb, 24)), url, "PERSISTENT RESERVE IN");
        try {
            ByteBuf d = r.data();
            if (d.readableBytes() < 24 || d.getInt(4) < 16) {
                return null;
            }
            return new Holder(d.getLong(8), d.getByte(21) & 0x0f);
        } finally {
            r.data().release();
        }
    }

    private void out(int action, int type, long reservationKey, long serviceActionKey) throws IOException {
        ByteBuf params = Cdb.reservationParameters(Buffers.allocator(), reservationKey, serviceActionKey);
        IscsiBlockDevice.await(session.execute(ScsiCommand.write(lun, Cdb.persistentReserveOut(action, type), params)),
                url, "PERSISTENT RESERVE OUT").data().release();
    }

    /** Who holds a reservation, read from its key when tapdisk4j made it. */
    record Holder(long key, int type) {

        boolean tapdisk4j() {
            return key >>> 48 == MAGIC;
        }

        int hostTag() {
            return (int) (key >>> 32) & 0xffff;
        }

        long pid() {
            return (key >>> 10) & PID_MASK;
        }

        /** A key of this process that none of its open devices holds. */
        boolean ownLeftover() {
            return sameHost() && pid() == (ProcessHandle.current().pid() & PID_MASK) && !HELD.contains(key);
        }

        boolean sameHost() {
            return tapdisk4j() && hostTag() == LunWriterLock.hostTag();
        }

        /** Whether the holder is known to be alive: a tapdisk4j process on this host that still runs. */
        boolean aliveHere() {
            return sameHost() && !ownLeftover() && ProcessHandle.of(pid()).map(ProcessHandle::isAlive).orElse(false);
        }

        @Override
        public String toString() {
            String k = String.format("reservation key 0x%016x, type %d", key, type);
            if (!tapdisk4j()) {
                return k + " (not a tapdisk4j key)";
            }
            if (ownLeftover()) {
                return k + " (this process, left by a device that could not release it)";
            }
            if (sameHost()) {
                return k + " (tapdisk4j pid " + pid() + " on this host, "
                        + (aliveHere() ? "running" : "no such process: dead") + ")";
            }
            return k + String.format(" (tapdisk4j pid %d on another host, host tag %04x)", pid(), hostTag());
        }
    }
}
