package io.tapdisk4j.bench.jmh;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.iscsi.pdu.DigestSettings;
import io.tapdisk4j.iscsi.pdu.InitiatorPdus;
import io.tapdisk4j.iscsi.pdu.Pdu;
import io.tapdisk4j.iscsi.pdu.PduDecoder;
import io.tapdisk4j.iscsi.pdu.PduEncoder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/** An iSCSI WRITE command PDU with 64 KiB of immediate data: encoded, then decoded, with and without CRC32C digests. */
@State(Scope.Thread)
public class IscsiPduBench {

    @Param({"false", "true"})
    public boolean digests;

    private EmbeddedChannel encoder;
    private EmbeddedChannel decoder;
    private ByteBuf payload;
    private final byte[] cdb = new byte[16];

    @Setup(Level.Trial)
    public void setup() {
        DigestSettings settings = new DigestSettings();
        settings.headerDigest(digests);
        settings.dataDigest(digests);
        encoder = new EmbeddedChannel(new PduEncoder(settings));
        decoder = new EmbeddedChannel(PduDecoder.forTarget(settings));
        payload = Buffers.direct(65536).writeZero(65536);
        cdb[0] = (byte) 0x8a;
    }

    @Benchmark
    public int encodeAndDecodeWriteCommand() {
        Pdu pdu = InitiatorPdus.scsiCommand(0, 1, 1, 1, cdb, InitiatorPdus.WRITE, 65536, true,
                payload.retainedDuplicate());
        encoder.writeOutbound(pdu);
        for (Object o; (o = encoder.readOutbound()) != null; ) {
            decoder.writeInbound(o);
        }
        Pdu back = decoder.readInbound();
        int n = back.dataLength();
        back.release();
        return n;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        payload.release();
        encoder.finishAndReleaseAll();
        decoder.finishAndReleaseAll();
    }
}
