package io.tapdisk4j.bench.jmh;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.nbd.NbdChunk;
import io.tapdisk4j.nbd.NbdRequest;
import io.tapdisk4j.nbd.NbdServerDecoder;
import io.tapdisk4j.nbd.NbdServerEncoder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/** The NBD server's per-command work: decoding a READ request, encoding its structured data reply header. */
@State(Scope.Thread)
public class NbdCodecBench {

    private EmbeddedChannel decoder;
    private EmbeddedChannel encoder;
    private ByteBuf readRequest;
    private ByteBuf payload;

    @Setup(Level.Trial)
    public void setup() {
        NbdServerDecoder d = new NbdServerDecoder();
        d.enterTransmission();
        decoder = new EmbeddedChannel(d);
        encoder = new EmbeddedChannel(NbdServerEncoder.INSTANCE);
        readRequest = Buffers.direct(28);
        readRequest.writeInt(0x25609513).writeShort(0).writeShort(0).writeLong(42).writeLong(1 << 20).writeInt(65536);
        payload = Buffers.direct(65536).writeZero(65536);
    }

    @Benchmark
    public Object decodeReadRequest() {
        decoder.writeInbound(readRequest.retainedDuplicate());
        NbdRequest r = decoder.readInbound();
        r.release();
        return r;
    }

    @Benchmark
    public int encodeStructuredReadReply() {
        encoder.writeOutbound(NbdChunk.offsetData(42, 1 << 20, payload.retainedDuplicate(), true));
        int n = 0;
        for (Object o; (o = encoder.readOutbound()) != null; ) {
            n += ((ByteBuf) o).readableBytes();
            ((ByteBuf) o).release();
        }
        return n;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        readRequest.release();
        payload.release();
        decoder.finishAndReleaseAll();
        encoder.finishAndReleaseAll();
    }
}
