package io.tapdisk4j.nfs.v3;

import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.nfs.device.NfsSession;
import io.tapdisk4j.nfs.device.NfsUrl;
import io.tapdisk4j.testsupport.peers.Ganesha;
import io.tapdisk4j.testsupport.peers.GaneshaExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The NFSv3 procedures the device does not exercise on its own, against nfs-ganesha. */
@ExtendWith(GaneshaExtension.class)
class Nfs3ProceduresTest {

    private final Ganesha ganesha;

    Nfs3ProceduresTest(Ganesha ganesha) {
        this.ganesha = ganesha;
    }

    private static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    @Test
    void nullFsstatFsinfoAccessLookupAndExclusiveCreate() throws Exception {
        NfsUrl url = NfsUrl.parse(DeviceUri.parse(ganesha.url("", "")));
        try (NfsSession s = NfsSession.open(url, url.path())) {
            Nfs3Client nfs = s.nfs();
            get(nfs.nullProc());
            FsStat st = get(nfs.fsstat(s.root()));
            assertTrue(st.totalBytes() > 0 && st.freeBytes() <= st.totalBytes(), st.toString());
            FsInfo info = s.fsinfo();
            assertTrue(info.rtmax() >= 4096 && info.wtmax() >= 4096, info.toString());
            int read = 0x01, modify = 0x04;
            assertEquals(read | modify, get(nfs.access(s.root(), read | modify)) & (read | modify));

            LookupResult a = get(nfs.create(s.root(), "excl.raw", CreateMode.EXCLUSIVE, 0, 0x1234_5678_9abcL));
            // The same verifier again (a retransmitted CREATE) succeeds with the same file; another fails.
            LookupResult again = get(nfs.create(s.root(), "excl.raw", CreateMode.EXCLUSIVE, 0, 0x1234_5678_9abcL));
            assertEquals(a.handle(), again.handle());
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> get(nfs.create(s.root(), "excl.raw", CreateMode.EXCLUSIVE, 0, 42)));
            assertEquals(Nfs3Status.EXIST, assertInstanceOf(Nfs3Exception.class, e.getCause()).status());
            assertTrue(Files.exists(ganesha.export().resolve("excl.raw")));

            LookupResult found = get(nfs.lookup(s.root(), "excl.raw"));
            assertEquals(a.handle(), found.handle());
            ExecutionException missing = assertThrows(ExecutionException.class,
                    () -> get(nfs.lookup(s.root(), "no-such-file")));
            assertEquals(Nfs3Status.NOENT, assertInstanceOf(Nfs3Exception.class, missing.getCause()).status());

            List<DirEntry> entries = get(nfs.readdirplus(s.root()));
            assertTrue(entries.stream().anyMatch(d -> d.name().equals("excl.raw") && d.handle() != null));
            get(nfs.remove(s.root(), "excl.raw"));
            assertTrue(!Files.exists(ganesha.export().resolve("excl.raw")));
        }
    }

    @Test
    void renameMovesAFileBetweenDirectoriesOfTheExport() throws Exception {
        var sub = Files.createDirectories(ganesha.export().resolve("rename-to"));
        Files.write(ganesha.export().resolve("rename-me.raw"), new byte[]{1, 2, 3});
        NfsUrl url = NfsUrl.parse(DeviceUri.parse(ganesha.url("", "")));
        try (NfsSession s = NfsSession.open(url, url.path())) {
            Nfs3Client nfs = s.nfs();
            FileHandle to = get(nfs.lookup(s.root(), "rename-to")).handle();
            get(nfs.rename(s.root(), "rename-me.raw", to, "renamed.raw"));
            assertTrue(!Files.exists(ganesha.export().resolve("rename-me.raw")));
            assertEquals(3, Files.size(sub.resolve("renamed.raw")));
            ExecutionException gone = assertThrows(ExecutionException.class,
                    () -> get(nfs.rename(s.root(), "rename-me.raw", to, "again.raw")));
            Nfs3Exception e = assertInstanceOf(Nfs3Exception.class, gone.getCause());
            assertEquals(Nfs3Status.NOENT, e.status());
            assertTrue(e.getMessage().contains("RENAME rename-me.raw to again.raw"), e.getMessage());
        }
    }

    @Test
    void readdirplusFollowsCookiesAcrossPages() throws Exception {
        var dir = Files.createDirectories(ganesha.export().resolve("many"));
        for (int i = 0; i < 600; i++) {
            Files.write(dir.resolve("vdi-with-a-longish-name-" + i + ".vhd"), new byte[0]);
        }
        NfsUrl url = NfsUrl.parse(DeviceUri.parse(ganesha.url("many", "")));
        try (NfsSession s = NfsSession.open(url, url.path())) {
            FileHandle d = get(s.lookup(url.path())).handle();
            List<DirEntry> entries = get(s.nfs().readdirplus(d));
            assertEquals(602, entries.size()); // with "." and ".."
        }
    }
}
