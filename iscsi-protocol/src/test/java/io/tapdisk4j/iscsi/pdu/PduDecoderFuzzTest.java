package io.tapdisk4j.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Seeded, bounded fuzzing of the PDU decoder: valid streams mutated (bit flips, truncation, garbage,
 * length fields rewritten) must either decode into well-formed PDUs or fail with a {@link DecoderException};
 * nothing else may escape and no buffer may leak (the leak check runs after the class).
 */
class PduDecoderFuzzTest {

    static final int ROUNDS = Integer.getInteger("iscsi.fuzz.rounds", 3000);

    @Test
    void mutatedStreamsDecodeOrFailCleanly() {
        Random r = new Random(0x15c51L);
        int decoded = 0;
        int refused = 0;
        for (int round = 0; round < ROUNDS; round++) {
            boolean hd = r.nextBoolean();
            boolean dd = r.nextBoolean();
            int max = 512 + r.nextInt(8192);
            Pdu[] pdus = new Pdu[1 + r.nextInt(4)];
            for (int i = 0; i < pdus.length; i++) {
                byte[] data = new byte[r.nextInt(Math.min(max, 1500))];
                r.nextBytes(data);
                int op = switch (r.nextInt(6)) {
                    case 0 -> Opcode.DATA_IN;
                    case 1 -> Opcode.SCSI_RESPONSE;
                    case 2 -> Opcode.R2T;
                    case 3 -> Opcode.NOP_IN;
                    case 4 -> Opcode.REJECT;
                    default -> Opcode.TEXT_RESPONSE;
                };
                Pdu p = Pdu.of(op, false, Unpooled.wrappedBuffer(data));
                for (int b = 1; b < 48; b++) {
                    if (b < 4 || b > 7) {
                        p.byteAt(b, r.nextInt(256));
                    }
                }
                pdus[i] = p;
            }
            ByteBuf wire = PduCodecTest.encode(hd, dd, pdus);
            mutate(r, wire);
            DigestSettings s = new DigestSettings();
            s.headerDigest(hd);
            s.dataDigest(dd);
            s.maxRecvDataSegmentLength(max);
            EmbeddedChannel ch = new EmbeddedChannel(PduDecoder.forInitiator(s));
            try {
                while (wire.isReadable()) {
                    int n = 1 + r.nextInt(Math.max(1, wire.readableBytes()));
                    ch.writeInbound(wire.readRetainedSlice(n));
                    for (Object o; (o = ch.readInbound()) != null; ) {
                        Pdu p = (Pdu) o;
                        assertTrue(p.dataLength() <= max, "decoded a segment above the limit");
                        assertTrue(Opcode.isTargetOpcode(p.opcode()), p.toString());
                        p.release();
                        decoded++;
                    }
                }
            } catch (DecoderException e) {
                refused++;
            } finally {
                wire.release();
                ch.finishAndReleaseAll();
            }
        }
        assertTrue(decoded > 0 && refused > 0, "fuzzing reached both outcomes: " + decoded + " decoded, " + refused + " refused");
    }

    /**
     * The same with a {@link DataInSink} behind the decoder and segments large enough to be placed: mutated
     * streams, read partly through read targets, decode or fail cleanly and every destination ends with
     * only its owner's reference.
     */
    @Test
    void mutatedStreamsWithPlacementDecodeOrFailCleanly() {
        Random r = new Random(0x91ace);
        int placed = 0;
        int refused = 0;
        for (int round = 0; round < ROUNDS / 10; round++) {
            boolean hd = r.nextBoolean();
            boolean dd = r.nextBoolean();
            int max = 131072;
            Pdu[] pdus = new Pdu[1 + r.nextInt(3)];
            for (int i = 0; i < pdus.length; i++) {
                byte[] data = new byte[r.nextInt(90_000)];
                r.nextBytes(data);
                Pdu p = Pdu.of(i % 2 == 0 ? Opcode.DATA_IN : Opcode.SCSI_RESPONSE, false, Unpooled.wrappedBuffer(data));
                p.flags(0x81).intAt(16, r.nextInt(4)).intAt(40, r.nextBoolean() ? 0 : r.nextInt(100_000) - 1000);
                pdus[i] = p;
            }
            ByteBuf wire = PduCodecTest.encode(hd, dd, pdus);
            mutate(r, wire);
            DigestSettings s = new DigestSettings();
            s.headerDigest(hd);
            s.dataDigest(dd);
            s.maxRecvDataSegmentLength(max);
            java.util.List<ByteBuf> destinations = new java.util.ArrayList<>();
            PduDecoder d = PduDecoder.forInitiator(s);
            d.placeDataIn((itt, offset, length) -> {
                if (itt == 3 || offset < 0 || offset > 200_000) {
                    return null;
                }
                ByteBuf b = Unpooled.directBuffer(offset + length);
                destinations.add(b);
                return b;
            });
            EmbeddedChannel ch = new EmbeddedChannel(d);
            try {
                while (wire.isReadable()) {
                    int n = 1 + r.nextInt(Math.max(1, wire.readableBytes()));
                    ByteBuf target = r.nextBoolean() ? d.nextReadTarget() : null;
                    if (target != null) {
                        target.writeBytes(wire, Math.min(n, target.writableBytes()));
                        ch.writeInbound(target);
                    } else {
                        ch.writeInbound(wire.readRetainedSlice(n));
                    }
                    for (Object o; (o = ch.readInbound()) != null; ) {
                        Pdu p = (Pdu) o;
                        assertTrue(p.dataLength() <= max, "decoded a segment above the limit");
                        if (p.placedInto() != null) {
                            placed++;
                        }
                        p.release();
                    }
                }
            } catch (DecoderException e) {
                refused++;
            } finally {
                wire.release();
                ch.finishAndReleaseAll();
                for (ByteBuf b : destinations) {
                    assertTrue(b.refCnt() == 1, "the decoder kept a reference to a destination");
                    b.release();
                }
            }
        }
        assertTrue(placed > 0 && refused > 0, "fuzzing reached both outcomes: " + placed + " placed, " + refused + " refused");
    }

    private static void mutate(Random r, ByteBuf wire) {
        int n = wire.readableBytes();
        switch (r.nextInt(6)) {
            case 0 -> { /* unchanged */ }
            case 1 -> {
                int flips = 1 + r.nextInt(4);
                for (int i = 0; i < flips; i++) {
                    int at = r.nextInt(n);
                    wire.setByte(at, wire.getByte(at) ^ (1 << r.nextInt(8)));
                }
            }
            case 2 -> wire.writerIndex(r.nextInt(n));
            case 3 -> {
                byte[] junk = new byte[r.nextInt(200)];
                r.nextBytes(junk);
                wire.writeBytes(junk);
            }
            case 4 -> wire.setMedium(5, r.nextInt(1 << 24)); // data segment length
            default -> wire.setByte(4, r.nextInt(256));       // TotalAHSLength
        }
    }
}
