package io.tapdisk4j.nfs.device;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDeviceProvider;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.nfs.v3.CreateMode;
import io.tapdisk4j.nfs.v3.DirEntry;
import io.tapdisk4j.nfs.v3.Fattr3;
import io.tapdisk4j.nfs.v3.FileHandle;
import io.tapdisk4j.nfs.v3.LookupResult;
import io.tapdisk4j.nfs.v3.Nfs3Exception;
import io.tapdisk4j.nfs.v3.Nfs3Status;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** {@code nfs://} device URIs: files on NFSv3 exports (open, create, remove, rename, list, resolve). */
public final class NfsDeviceProvider implements BlockDeviceProvider {

    /** Permission bits of created images: read-write for the owner and group, as XAPI's NFS SR does. */
    private static final int CREATE_MODE = 0660;

    @Override
    public Set<String> schemes() {
        return Set.of("nfs");
    }

    @Override
    public BlockDevice open(DeviceUri uri, OpenOptions options) throws IOException {
        NfsUrl url = NfsUrl.parse(uri);
        NfsSession session = NfsSession.open(url, url.path());
        try {
            LookupResult r = NfsSession.await(session.lookup(url.path()), "LOOKUP " + url.path());
            Fattr3 a = r.attributes() != null ? r.attributes()
                    : NfsSession.await(session.nfs().getattr(r.handle()), "GETATTR " + url.path());
            if (a.isDirectory()) {
                throw new BlockDeviceException(BlockError.EINVAL, uri + " is a directory, not an image file");
            }
            NfsWriterLock lock = options.readOnly() ? null : NfsWriterLock.acquire(session, url, uri.toString());
            NfsBlockDevice d = new NfsBlockDevice(session, true, url.path(), r.handle(), a.size(), options.readOnly());
            d.holdLock(lock);
            return d;
        } catch (IOException | RuntimeException e) {
            session.close();
            throw e;
        }
    }

    /** Creates the file (CREATE GUARDED: an existing file is an error, never overwritten) of {@code size} bytes. */
    @Override
    public BlockDevice create(DeviceUri uri, long size) throws IOException {
        NfsUrl url = NfsUrl.parse(uri);
        NfsSession session = NfsSession.open(url, url.parentPath());
        try {
            LookupResult dir = NfsSession.await(session.lookup(url.parentPath()), "LOOKUP " + url.parentPath());
            LookupResult file = NfsSession.await(session.nfs().create(dir.handle(), url.fileName(), CreateMode.GUARDED,
                    CREATE_MODE, 0), "CREATE " + url.path());
            if (size > 0) {
                NfsSession.await(session.nfs().setSize(file.handle(), size), "SETATTR size of " + url.path());
            }
            NfsWriterLock lock = NfsWriterLock.acquire(session, url, uri.toString());
            NfsBlockDevice d = new NfsBlockDevice(session, true, url.path(), file.handle(), size, false);
            d.holdLock(lock);
            return d;
        } catch (IOException | RuntimeException e) {
            session.close();
            throw e;
        }
    }

    @Override
    public boolean exists(DeviceUri uri) throws IOException {
        NfsUrl url = NfsUrl.parse(uri);
        try (NfsSession session = NfsSession.open(url, url.parentPath())) {
            LookupResult dir = NfsSession.await(session.lookup(url.parentPath()), "LOOKUP " + url.parentPath());
            return exists(session, dir.handle(), url.fileName());
        }
    }

    @Override
    public void remove(DeviceUri uri) throws IOException {
        NfsUrl url = NfsUrl.parse(uri);
        try (NfsSession session = NfsSession.open(url, url.parentPath())) {
            LookupResult dir = NfsSession.await(session.lookup(url.parentPath()), "LOOKUP " + url.parentPath());
            NfsSession.await(session.nfs().remove(dir.handle(), url.fileName()), "REMOVE " + url.path());
        }
    }

    /**
     * NFSv3 RENAME within one export. An existing target is refused (RENAME itself would replace it). RENAME is
     * not idempotent: should a retransmission, after a reply was lost, be answered NOENT, the rename counts as
     * done when the source is gone and the target is there.
     */
    @Override
    public void rename(DeviceUri from, DeviceUri to) throws IOException {
        NfsUrl src = NfsUrl.parse(from);
        NfsUrl dst = NfsUrl.parse(to);
        if (!src.host().equals(dst.host()) || src.nfsPort() != dst.nfsPort() || src.mountPort() != dst.mountPort()) {
            throw new BlockDeviceException(BlockError.EINVAL, "cannot rename " + from + " to " + to
                    + ": a rename stays on one NFS server");
        }
        try (NfsSession session = NfsSession.open(src, src.parentPath())) {
            if (!NfsSession.isPrefix(session.exportPath(), dst.parentPath())) {
                throw new BlockDeviceException(BlockError.EINVAL, "cannot rename " + from + " to " + to
                        + ": a rename stays within the export " + session.exportPath());
            }
            FileHandle fromDir = NfsSession.await(session.lookup(src.parentPath()), "LOOKUP " + src.parentPath()).handle();
            FileHandle toDir = NfsSession.await(session.lookup(dst.parentPath()), "LOOKUP " + dst.parentPath()).handle();
            if (exists(session, toDir, dst.fileName())) {
                throw new BlockDeviceException(BlockError.EINVAL, "cannot rename " + from + " to " + to + ": it exists");
            }
            String what = "RENAME " + src.path() + " to " + dst.path();
            try {
                NfsSession.await(session.nfs().rename(fromDir, src.fileName(), toDir, dst.fileName()), what);
            } catch (BlockDeviceException e) {
                if (status(e) != Nfs3Status.NOENT || exists(session, fromDir, src.fileName())
                        || !exists(session, toDir, dst.fileName())) {
                    throw e;
                }
            }
        }
    }

    private static boolean exists(NfsSession session, FileHandle dir, String name) throws BlockDeviceException {
        try {
            NfsSession.await(session.nfs().lookup(dir, name), "LOOKUP " + name);
            return true;
        } catch (BlockDeviceException e) {
            if (status(e) == Nfs3Status.NOENT) {
                return false;
            }
            throw e;
        }
    }

    /** The NFS status behind a failure, or -1 when it was not an NFS error status. */
    private static int status(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof Nfs3Exception n) {
                return n.status();
            }
        }
        return -1;
    }

    @Override
    public List<String> list(DeviceUri directory) throws IOException {
        List<String> names = new ArrayList<>();
        for (DirEntry e : NfsDirectory.entries(directory)) {
            names.add(e.name());
        }
        return names;
    }

    /**
     * {@code name} relative to the directory of the file {@code base} names, with "." and ".." segments
     * resolved (a parent locator's "./parent.vhd" names the same URI as the parent's own).
     */
    @Override
    public DeviceUri resolve(DeviceUri base, String name) {
        if (name.startsWith("/")) {
            return null;
        }
        String text = base.text();
        int q = text.indexOf('?');
        String query = q < 0 ? "" : text.substring(q);
        String head = q < 0 ? text : text.substring(0, q);
        int pathStart = head.indexOf('/', head.indexOf("//") + 2);
        if (pathStart < 0) {
            return null;
        }
        String path = head.substring(pathStart, head.lastIndexOf('/') + 1) + name;
        return DeviceUri.parse(head.substring(0, pathStart) + java.nio.file.Path.of(path).normalize() + query);
    }
}
