package io.tapdisk4j.bench.jmh;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.nfs.xdr.XdrDecoder;
import io.tapdisk4j.nfs.xdr.XdrEncoder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/** XDR for an NFSv3 WRITE's arguments header (file handle, offset, count, stable, length) and back. */
@State(Scope.Thread)
public class XdrBench {

    private final byte[] handle = new byte[28];
    private ByteBuf buf;

    @Setup(Level.Trial)
    public void setup() {
        buf = Buffers.direct(256);
    }

    @Benchmark
    public long encodeAndDecodeWriteHeader() {
        buf.clear();
        XdrEncoder.writeOpaque(buf, handle);
        XdrEncoder.writeHyper(buf, 1L << 32);
        XdrEncoder.writeUnsignedInt(buf, 65536);
        XdrEncoder.writeInt(buf, 0);
        XdrEncoder.writeUnsignedInt(buf, 65536);
        XdrDecoder d = new XdrDecoder(buf);
        byte[] fh = d.readOpaque(64, "fh");
        return fh.length + d.readHyper() + d.readUnsignedInt() + d.readInt() + d.readUnsignedInt();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        buf.release();
    }
}
