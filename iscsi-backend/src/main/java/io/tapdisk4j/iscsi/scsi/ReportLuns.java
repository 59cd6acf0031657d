package io.tapdisk4j.iscsi.scsi;

import io.netty.buffer.ByteBuf;

import java.util.ArrayList;
import java.util.List;

/** REPORT LUNS parameter data (SPC-5 6.33): 8-byte LUN entries, decoded for the flat and peripheral forms. */
public final class ReportLuns {

    private ReportLuns() {
    }

    public static List<Integer> parse(ByteBuf b) {
        if (b.readableBytes() < 8) {
            throw new IllegalArgumentException("REPORT LUNS data of " + b.readableBytes() + " bytes");
        }
        int at = b.readerIndex();
        long listLength = b.getUnsignedInt(at);
        int entries = (int) Math.min(listLength / 8, (b.readableBytes() - 8) / 8);
        List<Integer> luns = new ArrayList<>();
        for (int i = 0; i < entries; i++) {
            luns.add(LunEncoding.decode(b.getLong(at + 8 + i * 8)));
        }
        return luns;
    }
}
