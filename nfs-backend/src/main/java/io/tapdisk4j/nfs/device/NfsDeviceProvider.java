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
import io.tapdisk4j.nfs.v3.LookupResult;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** {@code nfs://} device URIs: files on NFSv3 exports (open, create, remove, list, resolve). */
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
            return new NfsBlockDevice(session, true, url.path(), r.handle(), a.size(), options.readOnly());
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
            return new NfsBlockDevice(session, true, url.path(), file.handle(), size, false);
        } catch (IOException | RuntimeException e) {
            session.close();
            throw e;
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

    @Override
    public List<String> list(DeviceUri directory) throws IOException {
        List<String> names = new ArrayList<>();
        for (DirEntry e : NfsDirectory.entries(directory)) {
            names.add(e.name());
        }
        return names;
    }

    /** {@code name} next to the file {@code base} names (or below it, for an absolute-path-free sibling). */
    @Override
    public DeviceUri resolve(DeviceUri base, String name) {
        if (name.startsWith("/")) {
            return null;
        }
        String text = base.text();
        int q = text.indexOf('?');
        String query = q < 0 ? "" : text.substring(q);
        String head = q < 0 ? text : text.substring(0, q);
        return DeviceUri.parse(head.substring(0, head.lastIndexOf('/') + 1) + name + query);
    }
}
