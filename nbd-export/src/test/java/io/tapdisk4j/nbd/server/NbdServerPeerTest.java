package io.tapdisk4j.nbd.server;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.local.FileDevice;
import io.tapdisk4j.block.local.MemoryDevice;
import io.tapdisk4j.nbd.Run;
import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.util.concurrent.TimeUnit;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The server against the real NBD clients: qemu-img, qemu-io, nbdinfo, nbdcopy, libnbd scripts, fio. */
class NbdServerPeerTest {

    static final long FILE_SIZE = 64L << 20;
    @TempDir
    static Path dir;
    static Path image;
    static NbdServer server;
    static FileDevice file;
    static FileDevice fileRo;
    static MemoryDevice big;
    static MemoryDevice scratch;
    static String base;

    @BeforeAll
    static void start() throws Exception {
        image = dir.resolve("source.raw");
        // 64 MiB: random data in the first 40 MiB with a 4 MiB hole at 8 MiB, the rest a hole.
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(FILE_SIZE);
            Random r = new Random(42);
            byte[] block = new byte[1 << 20];
            for (int mb = 0; mb < 40; mb++) {
                if (mb >= 8 && mb < 12) {
                    continue;
                }
                r.nextBytes(block);
                f.seek((long) mb << 20);
                f.write(block);
            }
        }
        file = FileDevice.open(image.toString(), false, false);
        fileRo = FileDevice.open(image.toString(), true, false);
        big = new MemoryDevice("peer-big", 8L << 30);
        scratch = new MemoryDevice("peer-scratch", FILE_SIZE);
        server = NbdServer.builder()
                .export(new NbdExport("file", "the source image", file, false))
                .export(new NbdExport("ro", "read-only view", fileRo, true))
                .export(new NbdExport("big", null, big, false))
                .export(new NbdExport("scratch", null, scratch, false))
                .bindTcp("127.0.0.1", 0);
        base = "nbd://127.0.0.1:" + server.port() + "/";
    }

    @AfterAll
    static void stop() {
        server.close();
        file.close();
        fileRo.close();
    }

    static String sha256(Path p) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(p)) {
            byte[] b = new byte[1 << 20];
            int n;
            while ((n = in.read(b)) > 0) {
                md.update(b, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    @Test
    void qemuImgInfoConvertCompareMap() throws Exception {
        String qemuImg = Peers.require("qemu-img", "qemu-utils");
        String info = Run.ok(qemuImg, "info", base + "ro").output();
        assertTrue(info.contains("67108864"), info);
        Path copy = dir.resolve("converted.raw");
        Run.ok(qemuImg, "convert", "-f", "raw", "-O", "raw", base + "ro", copy.toString());
        assertEquals(sha256(image), sha256(copy));
        Run.ok(qemuImg, "compare", "-f", "raw", "-F", "raw", image.toString(), base + "ro");
        // Writing through qemu-img convert into the server, then comparing.
        Run.ok(qemuImg, "convert", "-n", "-f", "raw", "-O", "raw", image.toString(), base + "scratch");
        Run.ok(qemuImg, "compare", "-f", "raw", "-F", "raw", image.toString(), base + "scratch");
        // The memory device knows its holes: the map must show the unwritten 4 MiB at 8 MiB as zero.
        String map = Run.ok(qemuImg, "map", "--output=json", "-f", "raw", base + "scratch").output();
        assertTrue(map.contains("\"start\": 8388608, \"length\": 4194304, \"depth\": 0, \"present\": true, \"zero\": true, \"data\": false"), map);
    }

    @Test
    void qemuIoPatternsBeyondFourGiB() throws Exception {
        String qemuIo = Peers.require("qemu-io", "qemu-utils");
        String out = Run.ok(qemuIo, "-f", "raw",
                "-c", "write -P 0xab 5G 1M", "-c", "write -P 0x5a 4294966784 1024",
                "-c", "read -P 0xab 5G 1M", "-c", "read -P 0x5a 4294966784 1024",
                "-c", "read -P 0 6G 64k", base + "big").output();
        assertTrue(!out.contains("Pattern verification failed") && !out.contains("error"), out);
        ByteBuf b = big.read(5L << 30, 4096).orTimeout(1, TimeUnit.MINUTES).join();
        try {
            assertEquals((byte) 0xab, b.getByte(4095));
        } finally {
            b.release();
        }
    }

    @Test
    void nbdinfoListJsonMap() throws Exception {
        String nbdinfo = Peers.require("nbdinfo", "libnbd-bin");
        String list = Run.ok(nbdinfo, "--list", base).output();
        for (String n : List.of("file", "ro", "big", "scratch", "the source image")) {
            assertTrue(list.contains(n), list);
        }
        String json = Run.ok(nbdinfo, "--json", base + "ro").output();
        assertTrue(json.contains("\"is_read_only\": true"), json);
        assertTrue(json.contains("\"export-size\": 67108864"), json);
        assertTrue(json.contains("\"can_multi_conn\": true") || json.contains("\"can_multi_conn\": false"), json);
        MemoryDevice sparse = new MemoryDevice("peer-map", 16 << 20);
        sparse.write(1 << 20, io.tapdisk4j.block.Buffers.zeroes(1 << 20).setByte(0, 1), false).orTimeout(1, TimeUnit.MINUTES).join();
        server.exports().add(new NbdExport("map", null, sparse, false));
        try {
            String map = Run.ok(nbdinfo, "--map", base + "map").output();
            assertTrue(map.matches("(?s)\\s*0\\s+1048576\\s+3\\s+hole,zero\\s+1048576\\s+1048576\\s+0\\s+data\\s+2097152\\s+14680064\\s+3\\s+hole,zero\\s*"), map);
        } finally {
            server.exports().remove("map");
        }
    }

    @Test
    void nbdcopyOneAndFourConnections() throws Exception {
        String nbdcopy = Peers.require("nbdcopy", "libnbd-bin");
        for (int conns : new int[] {1, 4}) {
            Path out = dir.resolve("copy" + conns + ".raw");
            Run.ok(nbdcopy, "-C", String.valueOf(conns), "-R", "16", base + "ro", out.toString());
            assertEquals(sha256(image), sha256(out), "nbdcopy with " + conns + " connections");
            MemoryDevice target = new MemoryDevice("peer-copy" + conns, FILE_SIZE);
            server.exports().add(new NbdExport("target" + conns, null, target, false));
            try {
                Run.ok(nbdcopy, "-C", String.valueOf(conns), image.toString(), base + "target" + conns);
                Path back = dir.resolve("back" + conns + ".raw");
                Run.ok(nbdcopy, "-C", String.valueOf(conns), base + "target" + conns, back.toString());
                assertEquals(sha256(image), sha256(back));
            } finally {
                server.exports().remove("target" + conns);
            }
        }
    }

    @Test
    void fioWithNbdEngine() throws Exception {
        String fio = Peers.require("fio", "fio");
        MemoryDevice target = new MemoryDevice("peer-fio", 32 << 20);
        server.exports().add(new NbdExport("fio", null, target, false));
        try {
            String out = Run.ok(fio, "--name=verify", "--ioengine=nbd", "--uri=" + base + "fio", "--rw=randwrite",
                    "--bs=4k", "--iodepth=32", "--size=8m", "--verify=crc32c", "--do_verify=1",
                    "--output-format=terse", "--randseed=7").output();
            assertTrue(!out.contains("verify: bad"), out);
            String read = Run.ok(fio, "--name=read", "--ioengine=nbd", "--uri=" + base + "ro", "--rw=randread",
                    "--bs=4k", "--iodepth=64", "--size=32m", "--runtime=2", "--time_based").output();
            assertTrue(read.contains("READ: bw="), read);
        } finally {
            server.exports().remove("fio");
        }
    }

    @Test
    void libnbdProtocolCorners() throws Exception {
        Run.libnbd(dir, base, """
                # Structured replies off: reads come back as simple replies.
                h = nbd.NBD()
                h.set_request_structured_replies(False)
                h.set_export_name('ro')
                h.connect_uri(uri + 'ro')
                assert not h.get_structured_replies_negotiated()
                with open('%s', 'rb') as f:
                    f.seek((40 << 20) - 4096)
                    assert h.pread(65536, (40 << 20) - 4096) == f.read(65536)
                with open('%s', 'rb') as f:
                    f.seek(12345)
                    assert h.pread(1000, 12345) == f.read(1000)
                h.shutdown()

                # EXPORT_NAME only (an old client: not even fixed newstyle's option haggling).
                h = nbd.NBD()
                h.set_handshake_flags(nbd.HANDSHAKE_FLAG_FIXED_NEWSTYLE)
                h.set_opt_mode(False)
                h.set_request_structured_replies(False)
                h.set_full_info(False)
                h.connect_uri(uri + 'big')
                assert h.get_size() == 8 << 30
                h.pwrite(b'x' * 512, 7 << 30)
                assert h.pread(512, 7 << 30) == b'x' * 512
                h.shutdown()
                h = nbd.NBD()
                h.set_handshake_flags(0)
                h.connect_uri(uri + 'big')
                assert h.get_protocol() == 'newstyle'
                assert h.pread(512, 7 << 30) == b'x' * 512
                h.shutdown()

                # Block status with and without REQ_ONE.
                h = nbd.NBD()
                h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
                h.connect_uri(uri + 'scratch')
                h.pwrite(b'\\1' * 65536, 0)
                h.zero(65536, 65536)
                seen = []
                def cb(metacontext, offset, entries, err):
                    seen.append((metacontext, offset, list(entries)))
                h.block_status(4 << 20, 0, cb)
                assert seen[0][0] == nbd.CONTEXT_BASE_ALLOCATION
                assert seen[0][2][0:2] == [65536, 0], seen
                seen.clear()
                h.block_status(4 << 20, 0, cb, nbd.CMD_FLAG_REQ_ONE)
                assert len(seen[0][2]) == 2 and seen[0][2][0] == 65536, seen
                seen.clear()
                h.block_status(4096, 65536, cb)
                assert seen[0][2][1] == 3, seen

                # Error codes, with libnbd's own checks off so the server sees the bad requests.
                h.set_strict_mode(0)
                size = h.get_size()
                def expect_errno(code, fn):
                    try:
                        fn()
                    except nbd.Error as e:
                        assert e.errno in (code, errno.errorcode[code]), (e.errno, e.string)
                        return
                    raise AssertionError('no error')
                expect_errno(errno.EINVAL, lambda: h.pread(4096, size))
                expect_errno(errno.ENOSPC, lambda: h.pwrite(b'x' * 4096, size - 1024))
                expect_errno(errno.EINVAL, lambda: h.trim(8192, size - 4096))
                expect_errno(errno.EINVAL, lambda: h.pread(1, size + (1 << 40)))
                h.flush()
                h.cache(4096, 0)
                h.zero(4096, 0, nbd.CMD_FLAG_FAST_ZERO)
                h.pwrite(b'y' * 4096, 0, nbd.CMD_FLAG_FUA)
                assert h.pread(4096, 0) == b'y' * 4096
                buf = h.pread(4096, 0, flags=nbd.CMD_FLAG_DF)
                h.shutdown()

                h = nbd.NBD()
                h.set_strict_mode(0)
                h.connect_uri(uri + 'ro')
                assert h.is_read_only()
                expect_errno(errno.EPERM, lambda: h.pwrite(b'x' * 512, 0))
                expect_errno(errno.EPERM, lambda: h.zero(512, 0))
                expect_errno(errno.EPERM, lambda: h.trim(512, 0))
                h.shutdown()

                # Option haggling: LIST, INFO on a missing export, GO on a good one.
                h = nbd.NBD()
                h.set_opt_mode(True)
                h.connect_uri(uri + 'nosuch')
                names = []
                h.opt_list(lambda name, desc: names.append(name))
                assert 'file' in names and 'scratch' in names, names
                try:
                    h.opt_info()
                    raise AssertionError('INFO on a missing export succeeded')
                except nbd.Error:
                    pass
                h.set_export_name('ro')
                h.set_full_info(True)
                h.opt_info()
                assert h.get_size() == 64 << 20
                assert h.get_export_description() == 'read-only view'
                h.opt_go()
                assert h.pread(512, 0) is not None
                h.shutdown()
                print('ok')
                """.formatted(image, image));
    }
}
