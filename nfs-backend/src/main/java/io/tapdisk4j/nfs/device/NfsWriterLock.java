package io.tapdisk4j.nfs.device;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.concurrent.ScheduledFuture;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.block.WriterLocks;
import io.tapdisk4j.nfs.v3.CreateMode;
import io.tapdisk4j.nfs.v3.FileHandle;
import io.tapdisk4j.nfs.v3.Nfs3Exception;
import io.tapdisk4j.nfs.v3.Nfs3Status;
import io.tapdisk4j.nfs.v3.ReadResult;
import io.tapdisk4j.nfs.v3.StableHow;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One writer per image on NFS, across hosts, without NLM (as NFSv3 clients without lockd do): a writable open
 * creates {@code NAME.lock} beside the image with CREATE GUARDED, which only one client can win, holding the
 * holder (host, pid, command) and a lease. The holder renews the lease while it has the image open and removes
 * the file on close. A holder that died leaves the file behind with a lease that runs out: that lock is stale,
 * and is broken only with {@code --force} ({@link WriterLocks#breakStale()}); a live holder's never is.
 */
final class NfsWriterLock {

    private static final Logger LOG = LoggerFactory.getLogger(NfsWriterLock.class);
    static final Duration LEASE = Duration.ofSeconds(60);
    static final Duration RENEW = Duration.ofSeconds(20);
    static final String SUFFIX = ".lock";

    private final NfsSession session;
    private final FileHandle dir;
    private final String name;
    private final String image;
    private final String token = UUID.randomUUID().toString();
    private volatile FileHandle file;
    private volatile ScheduledFuture<?> renewal;

    private NfsWriterLock(NfsSession session, FileHandle dir, String name, String image) {
        this.session = session;
        this.dir = dir;
        this.name = name;
        this.image = image;
    }

    /**
     * Takes the lock on the image {@code url} names, or throws EBUSY naming the holder. Returns null when no lock
     * file can be made there (a read-only export, a directory this user may not write): the open goes on
     * without a lock, as before locking existed, and its writes meet the same refusal.
     */
    static NfsWriterLock acquire(NfsSession session, NfsUrl url, String image) throws IOException {
        FileHandle dir = NfsSession.await(session.lookup(url.parentPath()), "LOOKUP " + url.parentPath()).handle();
        NfsWriterLock lock = new NfsWriterLock(session, dir, url.fileName() + SUFFIX, image);
        try {
            lock.take(true);
        } catch (BlockDeviceException e) {
            int s = status(e);
            if (s == Nfs3Status.ROFS || s == Nfs3Status.ACCES || s == Nfs3Status.PERM) {
                LOG.warn("{}: no writer lock (cannot create {}: {})", image, lock.name, e.getMessage());
                return null;
            }
            throw e;
        }
        return lock;
    }

    private void take(boolean mayBreak) throws IOException {
        try {
            file = NfsSession.await(session.nfs().create(dir, name, CreateMode.GUARDED, 0644, 0), "CREATE " + name)
                    .handle();
        } catch (BlockDeviceException e) {
            if (status(e) != Nfs3Status.EXIST) {
                throw e;
            }
            Holder h = readHolder();
            if (h != null && h.token.equals(token)) {
                file = h.handle; // our own CREATE, retransmitted after its reply was lost
            } else if (h == null || !h.stale()) {
                throw new BlockDeviceException(BlockError.EBUSY, image + " is already open for writing by "
                        + (h == null ? "another client (its lock file " + name + " is unreadable)" : h.describe())
                        + "; one writer at a time");
            } else if (!mayBreak || !WriterLocks.breakStale()) {
                throw new BlockDeviceException(BlockError.EBUSY, image + " is locked by " + h.describe()
                        + ", which looks dead (" + h.why() + "); if it is, break the stale lock with --force");
            } else {
                LOG.warn("{}: breaking the stale lock of {} ({})", image, h.describe(), h.why());
                NfsSession.await(session.nfs().remove(dir, name), "REMOVE " + name);
                take(false);
                return;
            }
        }
        writeLease();
        renewal = EventLoops.shared().next().scheduleAtFixedRate(this::renew, RENEW.toMillis(), RENEW.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    private String content() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            host = "unknown-host";
        }
        String cmd = ProcessHandle.current().info().command().orElse("?");
        return "tapdisk4j writer lock\nhost " + host + "\npid " + ProcessHandle.current().pid() + "\ncommand " + cmd
                + "\ntoken " + token + "\nlease-until " + Instant.now().plus(LEASE) + "\n";
    }

    private void writeLease() throws BlockDeviceException {
        byte[] b = content().getBytes(StandardCharsets.UTF_8);
        NfsSession.await(session.nfs().setSize(file, 0), "SETATTR " + name);
        NfsSession.await(session.nfs().write(file, 0, Unpooled.wrappedBuffer(b), StableHow.FILE_SYNC), "WRITE " + name);
    }

    /** Runs on an event loop: asynchronous only. */
    private void renew() {
        byte[] b = content().getBytes(StandardCharsets.UTF_8);
        session.nfs().write(file, 0, Unpooled.wrappedBuffer(b), StableHow.FILE_SYNC).whenComplete((r, t) -> {
            if (t != null) {
                LOG.warn("{}: renewing the writer lock's lease failed: {}", image, t.toString());
            }
        });
    }

    /** Stops renewing and removes the lock file; asynchronous (a device may close on an event loop). */
    CompletableFuture<Void> release() {
        ScheduledFuture<?> r = renewal;
        if (r != null) {
            r.cancel(false);
        }
        return session.nfs().remove(dir, name).handle((v, t) -> {
            if (t != null) {
                LOG.warn("{}: removing the writer lock {} failed: {}", image, name, t.toString());
            }
            return null;
        });
    }

    private Holder readHolder() throws BlockDeviceException {
        FileHandle h;
        try {
            h = NfsSession.await(session.nfs().lookup(dir, name), "LOOKUP " + name).handle();
        } catch (BlockDeviceException e) {
            if (status(e) == Nfs3Status.NOENT) {
                return null;
            }
            throw e;
        }
        ReadResult r = NfsSession.await(session.nfs().read(h, 0, 4096), "READ " + name);
        String text;
        try {
            ByteBuf d = r.data();
            text = d.toString(StandardCharsets.UTF_8);
        } finally {
            r.release();
        }
        return Holder.parse(h, text);
    }

    private static int status(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof Nfs3Exception n) {
                return n.status();
            }
        }
        return -1;
    }

    private record Holder(FileHandle handle, String host, long pid, String command, String token, Instant leaseUntil) {

        static Holder parse(FileHandle handle, String text) {
            String host = "?";
            String command = "?";
            String token = "";
            long pid = -1;
            Instant lease = null;
            for (String line : text.split("\n")) {
                int sp = line.indexOf(' ');
                if (sp < 0) {
                    continue;
                }
                String k = line.substring(0, sp);
                String v = line.substring(sp + 1).trim();
                try {
                    switch (k) {
                        case "host" -> host = v;
                        case "pid" -> pid = Long.parseLong(v);
                        case "command" -> command = v;
                        case "token" -> token = v;
                        case "lease-until" -> lease = Instant.parse(v);
                        default -> {
                        }
                    }
                } catch (NumberFormatException | DateTimeParseException ignored) {
                    // a damaged field: the lock then has no valid lease, which makes it stale
                }
            }
            return new Holder(handle, host, pid, command, token, lease);
        }

        boolean sameHost() {
            try {
                return host.equals(InetAddress.getLocalHost().getHostName());
            } catch (IOException e) {
                return false;
            }
        }

        boolean stale() {
            return leaseUntil == null || Instant.now().isAfter(leaseUntil)
                    || (sameHost() && pid > 0 && ProcessHandle.of(pid).map(p -> !p.isAlive()).orElse(true));
        }

        String why() {
            if (leaseUntil == null) {
                return "no valid lease";
            }
            if (Instant.now().isAfter(leaseUntil)) {
                return "its lease ran out at " + leaseUntil;
            }
            return "no process " + pid + " on this host";
        }

        String describe() {
            return "host " + host + " pid " + pid + " (" + command + ", lease until " + leaseUntil + ")";
        }
    }
}
