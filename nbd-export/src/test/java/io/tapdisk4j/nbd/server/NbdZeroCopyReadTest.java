package io.tapdisk4j.nbd.server;

import io.tapdisk4j.block.local.FileDevice;
import io.tapdisk4j.nbd.Run;
import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static io.tapdisk4j.nbd.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * READs of a file export answered with file regions (sendfile from the page cache), checked with libnbd
 * and nbdcopy: the bytes are the file's with structured and simple replies, with DF, many in flight and at
 * the end of the export; reads crossing the end are refused; data outside the page cache, and every
 * connection with TLS, are served by copying instead; every region is released however the connection ends.
 */
class NbdZeroCopyReadTest {

    /** Not page-aligned: the last page of the export is partial. */
    static final int SIZE = (16 << 20) + 1000;

    @TempDir
    static Path dir;
    static Path image;
    static FileDevice file;
    static RegionCountingDevice counted;
    static NbdServer server;
    static String base;

    @BeforeAll
    static void start() throws Exception {
        image = dir.resolve("zc.raw");
        byte[] data = new byte[SIZE];
        new Random(5).nextBytes(data);
        Files.write(image, data);
        file = FileDevice.open(image.toString(), false, false);
        counted = new RegionCountingDevice(file);
        server = NbdServer.builder().export(new NbdExport("zc", null, counted, false)).bindTcp("127.0.0.1", 0);
        base = "nbd://127.0.0.1:" + server.port() + "/";
    }

    @AfterAll
    static void stop() {
        server.close();
        file.close();
    }

    /** Brings the whole image into the page cache (another test evicts it). */
    static void warm() throws IOException {
        try (InputStream in = Files.newInputStream(image)) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
        }
    }

    static void allRegionsReleased(NbdServer s, RegionCountingDevice d) {
        RegionCountingDevice.await(() -> s.connectionCount() == 0, "the server to see the client go");
        // The channel releases what it still queued just after it reports being closed.
        RegionCountingDevice.await(() -> d.unreleased().isEmpty(), "every region handed out to be released");
    }

    @Test
    void regionRepliesCarryTheFilesBytes() throws Exception {
        warm();
        int before = counted.regions();
        Run.libnbd(dir, base, """
                with open('%s', 'rb') as f:
                    data = bytearray(f.read())
                size = len(data)
                ranges = [(0, 65536), (12345, 1 << 20), (3 << 20, 4 << 20), (size - 70000, 70000),
                          (size - (1 << 20) - 3, (1 << 20) + 3), (100, 4096)]
                for structured in (True, False):
                    h = nbd.NBD()
                    h.set_request_structured_replies(structured)
                    h.connect_uri(uri + 'zc')
                    assert h.get_structured_replies_negotiated() == structured
                    for off, n in ranges:
                        assert h.pread(n, off) == data[off:off + n], (structured, off, n)
                        if structured:
                            # DF: the data in one chunk.
                            chunks = []
                            def chunk(buf, at, status, err):
                                chunks.append((bytes(buf), at, status))
                                return 0
                            assert h.pread_structured(n, off, chunk, nbd.CMD_FLAG_DF) == data[off:off + n]
                            assert chunks == [(bytes(data[off:off + n]), off, nbd.READ_DATA)], (off, n, len(chunks))
                    # Many in flight at once, answered in whatever order they complete.
                    pending = []
                    for i in range(48):
                        off = (i * 7919 * 4096) %% (size - 262144)
                        b = nbd.Buffer(262144)
                        pending.append((h.aio_pread(b, off), b, off))
                    while h.aio_in_flight() > 0:
                        h.poll(-1)
                    for cookie, b, off in pending:
                        assert h.aio_command_completed(cookie)
                        assert b.to_bytearray() == data[off:off + 262144], off
                    # A write, then a read of the same range: the region sends what the write left.
                    h.pwrite(b'\\xab' * 131072, 5 << 20)
                    data[5 << 20:(5 << 20) + 131072] = b'\\xab' * 131072
                    assert h.pread(262144, (5 << 20) - 65536) == data[(5 << 20) - 65536:(5 << 20) + 196608]
                    # Crossing the end is refused, not cut short.
                    h.set_strict_mode(0)
                    for off, n in [(size - 4096, 65536), (size, 65536), (size + (1 << 30), 1 << 20)]:
                        try:
                            h.pread(n, off)
                            raise AssertionError('read past the end succeeded')
                        except nbd.Error as e:
                            assert e.errno in (errno.EINVAL, 'EINVAL'), (e.errno, e.string)
                    assert h.pread(65536, 0) == data[0:65536], 'the connection goes on after the refusals'
                    h.shutdown()
                print('ok')
                """.formatted(image));
        assertTrue(counted.regions() - before >= 2 * 10, "reads of 64 KiB and more went out as file regions: "
                + (counted.regions() - before));
        allRegionsReleased(server, counted);
        // nbdcopy with 4 connections over the same path: the whole export, byte for byte.
        Path out = dir.resolve("copy.raw");
        Run.ok(Peers.require("nbdcopy", "libnbd-bin"), "-C", "4", base + "zc", out.toString());
        assertEquals(-1L, Files.mismatch(image, out));
        allRegionsReleased(server, counted);
    }

    @Test
    void dataOutsideThePageCacheIsCopiedInstead() throws Exception {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            ch.force(true); // dirty pages would stay cached
        }
        Process dd = new ProcessBuilder("dd", "if=" + image, "iflag=nocache", "count=0", "status=none").start();
        assertTrue(dd.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, dd.exitValue());
        int before = counted.regions();
        String script = """
                h = nbd.NBD()
                h.connect_uri(uri + 'zc')
                with open('%s', 'rb') as f:
                    f.seek(9 << 20)
                    assert h.pread(1 << 20, 9 << 20) == f.read(1 << 20)
                h.shutdown()
                """.formatted(image);
        Run.libnbd(dir, base, script);
        assertEquals(before, counted.regions(), "an uncached range must not go to sendfile on the event loop");
        Run.libnbd(dir, base, script); // the first read brought the range into the page cache
        assertEquals(before + 1, counted.regions());
        allRegionsReleased(server, counted);
    }

    @Test
    void tlsConnectionsAreServedByCopying() throws Exception {
        warm();
        Path certs = TestCerts.create(dir.resolve("certs"));
        RegionCountingDevice d = new RegionCountingDevice(file);
        try (NbdServer s = NbdServer.builder().export(new NbdExport("zc", null, d, true))
                .tls(NbdTlsConfig.x509(certs, NbdTlsMode.ON, false)).bindTcp("127.0.0.1", 0)) {
            String nbdcopy = Peers.require("nbdcopy", "libnbd-bin");
            Path out = dir.resolve("tls-copy.raw");
            Run.ok(nbdcopy, "-C", "2", "nbds://127.0.0.1:" + s.port() + "/zc?tls-certificates=" + certs, out.toString());
            assertEquals(-1L, Files.mismatch(image, out));
            assertEquals(0, d.regions(), "TLS must see every byte: no file regions");
            // The same export in clear text on the same server does use them.
            Path plain = dir.resolve("plain-copy.raw");
            Run.ok(nbdcopy, "nbd://127.0.0.1:" + s.port() + "/zc", plain.toString());
            assertEquals(-1L, Files.mismatch(image, plain));
            assertTrue(d.regions() > 0);
            allRegionsReleased(s, d);
        }
    }

    @Test
    void unixSocketConnectionsSendRegionsToo() throws Exception {
        warm();
        RegionCountingDevice d = new RegionCountingDevice(file);
        Path sock = dir.resolve("zc.sock");
        try (NbdServer s = NbdServer.builder().export(new NbdExport("zc", null, d, true)).bindUnix(sock)) {
            Path out = dir.resolve("unix-copy.raw");
            Run.ok(Peers.require("nbdcopy", "libnbd-bin"), "-C", "2", "nbd+unix:///zc?socket=" + sock, out.toString());
            assertEquals(-1L, Files.mismatch(image, out));
            assertTrue(d.regions() > 0);
            allRegionsReleased(s, d);
        }
    }

    @Test
    void clientVanishingMidReplyReleasesItsRegions() throws Exception {
        warm();
        int before = counted.regions();
        try (Socket sock = new Socket()) {
            sock.setReceiveBufferSize(64 << 10); // the server's replies back up behind a client that stopped reading
            sock.connect(new InetSocketAddress("127.0.0.1", server.port()), 10_000);
            sock.setSoTimeout(30_000);
            DataInputStream in = new DataInputStream(sock.getInputStream());
            DataOutputStream out = new DataOutputStream(sock.getOutputStream());
            assertEquals(NBDMAGIC, in.readLong());
            assertEquals(IHAVEOPT, in.readLong());
            in.readUnsignedShort();
            // The old way in: EXPORT_NAME, simple replies only.
            byte[] name = "zc".getBytes(StandardCharsets.UTF_8);
            out.writeInt(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
            out.writeLong(IHAVEOPT);
            out.writeInt(OPT_EXPORT_NAME);
            out.writeInt(name.length);
            out.write(name);
            out.flush();
            assertEquals(SIZE, in.readLong());
            in.readUnsignedShort();
            // 32 reads of 4 MiB (128 MiB of replies, beyond the connection's write buffer limit).
            for (int i = 0; i < 32; i++) {
                out.writeInt(REQUEST_MAGIC);
                out.writeShort(0);
                out.writeShort(CMD_READ);
                out.writeLong(i);
                out.writeLong((long) (i % 3) << 22);
                out.writeInt(4 << 20);
            }
            out.flush();
            // The first reply has started: its header and some of its data arrived.
            assertEquals(SIMPLE_REPLY_MAGIC, in.readInt());
            assertEquals(0, in.readInt());
            in.readLong();
            readSome(in, 100_000);
            sock.setSoLinger(true, 0); // vanish: a reset, with replies half sent
        }
        allRegionsReleased(server, counted);
        assertTrue(counted.regions() > before, "the reads were answered with regions");
    }

    private static void readSome(InputStream in, int n) throws IOException {
        byte[] b = new byte[n];
        int got = 0;
        while (got < n) {
            int r = in.read(b, got, n - got);
            if (r < 0) {
                throw new IOException("server closed early");
            }
            got += r;
        }
    }
}
