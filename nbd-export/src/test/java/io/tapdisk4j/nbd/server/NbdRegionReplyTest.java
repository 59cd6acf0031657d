package io.tapdisk4j.nbd.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.DefaultFileRegion;
import io.netty.channel.FileRegion;
import io.netty.channel.embedded.EmbeddedChannel;
import io.tapdisk4j.block.local.FileDevice;
import io.tapdisk4j.block.local.MemoryDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static io.tapdisk4j.nbd.NbdProtocol.*;
import static io.tapdisk4j.nbd.server.NbdServerPipelineTest.*;
import static org.junit.jupiter.api.Assertions.*;

/** READ replies made of a header buffer and a file region, on an EmbeddedChannel: framing, fallbacks, release. */
class NbdRegionReplyTest {

    static final int SIZE = 1 << 20;

    @TempDir
    Path dir;

    byte[] data;

    FileDevice file() throws Exception {
        Path p = dir.resolve("r.raw");
        data = new byte[SIZE];
        new Random(9).nextBytes(data);
        Files.write(p, data);
        return FileDevice.open(p.toString(), true, false);
    }

    static byte[] bytesOf(FileRegion r) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        WritableByteChannel ch = Channels.newChannel(out);
        while (r.transferred() < r.count()) {
            r.transferTo(ch, r.transferred());
        }
        return out.toByteArray();
    }

    @Test
    void structuredAndSimpleRepliesFrameTheRegion() throws Exception {
        try (FileDevice f = file()) {
            RegionCountingDevice d = new RegionCountingDevice(f);
            for (boolean structured : new boolean[] {true, false}) {
                EmbeddedChannel ch = transmitting(exports(d, true), structured);
                send(ch, request(structured ? CMD_FLAG_DF : 0, CMD_READ, 77, 4096 + 3, 200_000));
                ByteBuf h = ch.readOutbound();
                FileRegion r = ch.readOutbound();
                if (structured) {
                    assertEquals(STRUCTURED_REPLY_HEADER + 8, h.readableBytes());
                    assertEquals(STRUCTURED_REPLY_MAGIC, h.readInt());
                    assertEquals(REPLY_FLAG_DONE, h.readUnsignedShort());
                    assertEquals(REPLY_TYPE_OFFSET_DATA, h.readUnsignedShort());
                    assertEquals(77, h.readLong());
                    assertEquals(8 + 200_000, h.readInt());
                    assertEquals(4096 + 3, h.readLong());
                } else {
                    assertEquals(SIMPLE_REPLY_HEADER, h.readableBytes());
                    assertEquals(SIMPLE_REPLY_MAGIC, h.readInt());
                    assertEquals(0, h.readInt());
                    assertEquals(77, h.readLong());
                }
                h.release();
                assertArrayEquals(Arrays.copyOfRange(data, 4096 + 3, 4096 + 3 + 200_000), bytesOf(r));
                r.release();
                assertNull(ch.readOutbound());
                ch.finishAndReleaseAll();
            }
            assertEquals(2, d.regions());
            assertEquals(java.util.List.of(), d.unreleased());
        }
    }

    @Test
    void smallReadsAndReadsPastTheEndAreNotRegions() throws Exception {
        try (FileDevice f = file()) {
            RegionCountingDevice d = new RegionCountingDevice(f);
            EmbeddedChannel ch = transmitting(exports(d, true), true);
            send(ch, request(0, CMD_READ, 1, 0, 4096)); // below the size where sendfile pays
            ByteBuf o = out(ch);
            assertEquals(STRUCTURED_REPLY_HEADER + 8 + 4096, o.readableBytes());
            o.release();
            send(ch, request(0, CMD_READ, 2, SIZE - 4096, 65536)); // crosses the end: refused before the device
            o = out(ch);
            assertEquals(STRUCTURED_REPLY_MAGIC, o.readInt());
            o.skipBytes(2);
            assertEquals(REPLY_TYPE_ERROR, o.readUnsignedShort());
            assertEquals(2, o.readLong());
            o.skipBytes(4);
            assertEquals(EINVAL, o.readInt());
            o.release();
            ch.finishAndReleaseAll();
            assertEquals(0, d.regions());
        }
    }

    @Test
    void devicesWithoutRegionsAreReadAsBefore() {
        MemoryDevice m = new MemoryDevice("no-regions", SIZE);
        EmbeddedChannel ch = transmitting(exports(m, true), false);
        send(ch, request(0, CMD_READ, 3, 0, 262144));
        ByteBuf o = out(ch);
        assertEquals(SIMPLE_REPLY_HEADER + 262144, o.readableBytes());
        o.release();
        ch.finishAndReleaseAll();
    }

    @Test
    void regionsStillQueuedWhenTheConnectionClosesAreReleased() throws Exception {
        try (FileDevice f = file()) {
            RegionCountingDevice d = new RegionCountingDevice(f);
            EmbeddedChannel ch = transmitting(exports(d, true), true);
            for (int i = 0; i < 8; i++) {
                send(ch, request(0, CMD_READ, i, (long) i * 65536, 131072));
            }
            ch.close(); // nothing of it was read
            ch.finishAndReleaseAll();
            assertEquals(8, d.regions());
            assertEquals(java.util.List.of(), d.unreleased());
            // The device's file stays open for others.
            FileRegion r = f.readRegion(0, 65536);
            assertNotNull(r);
            r.release();
        }
    }

    @Test
    void queuedRegionsWeighWhatTheyWillSend() throws Exception {
        try (FileDevice f = file()) {
            FileRegion r = f.readRegion(0, 300_000);
            assertEquals(300_000, NbdReplySizes.INSTANCE.size(r));
            r.release();
        }
        ByteBuf b = Unpooled.buffer().writeZero(123);
        assertEquals(123, NbdReplySizes.INSTANCE.size(b));
        b.release();
        DefaultFileRegion huge = new DefaultFileRegion(dir.resolve("none").toFile(), 0, 1L << 40);
        assertEquals(Integer.MAX_VALUE, NbdReplySizes.INSTANCE.size(huge));
        huge.release();
    }
}
