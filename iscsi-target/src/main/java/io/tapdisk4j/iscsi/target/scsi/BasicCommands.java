package io.tapdisk4j.iscsi.target.scsi;

import java.util.concurrent.CompletableFuture;

/** TEST UNIT READY, REQUEST SENSE, REPORT LUNS and READ CAPACITY (10/16): what every logical unit answers. */
final class BasicCommands {

    private final LogicalUnit lu;

    BasicCommands(LogicalUnit lu) {
        this.lu = lu;
    }

    CompletableFuture<ScsiResult> testUnitReady(ScsiRequest r) {
        return CompletableFuture.completedFuture(ScsiResult.good());
    }

    CompletableFuture<ScsiResult> requestSense(ScsiRequest r) {
        byte[] cdb = r.cdb();
        boolean descriptor = (cdb[1] & 0x01) != 0;
        int allocation = Bytes.u8(cdb, 4);
        PersistentReservations.Attention a = lu.reservations().takeAttention(r.nexus());
        byte[] sense = a == null ? Sense.build(descriptor, Sense.NO_SENSE, 0, 0, -1)
                : Sense.build(descriptor, Sense.UNIT_ATTENTION, a.asc(), a.ascq(), -1);
        return CompletableFuture.completedFuture(ScsiResult.data(sense, allocation));
    }

    CompletableFuture<ScsiResult> reportLuns(ScsiRequest r) {
        byte[] cdb = r.cdb();
        int select = Bytes.u8(cdb, 2);
        long allocation = Bytes.u32(cdb, 6);
        if (select > 2 && select != 0x10 && select != 0x11 && select != 0x12) {
            throw ScsiException.invalidFieldInCdb("SELECT REPORT " + select);
        }
        if (allocation < 16) {
            throw ScsiException.invalidFieldInCdb("allocation length " + allocation);
        }
        byte[] d = new byte[16];
        Bytes.putInt(d, 0, 8); // one LUN: 0
        return CompletableFuture.completedFuture(ScsiResult.data(d, (int) Math.min(allocation, Integer.MAX_VALUE)));
    }

    CompletableFuture<ScsiResult> readCapacity10(ScsiRequest r) {
        byte[] d = new byte[8];
        long last = lu.blocks() - 1;
        Bytes.putInt(d, 0, (int) Math.min(last, 0xffffffffL));
        Bytes.putInt(d, 4, lu.blockSize());
        return CompletableFuture.completedFuture(ScsiResult.data(d, 8));
    }

    CompletableFuture<ScsiResult> readCapacity16(ScsiRequest r) {
        long allocation = Bytes.u32(r.cdb(), 10);
        byte[] d = new byte[32];
        Bytes.putLong(d, 0, lu.blocks() - 1);
        Bytes.putInt(d, 8, lu.blockSize());
        d[13] = (byte) lu.physicalExponent();
        if (lu.thin()) {
            d[14] = (byte) 0xc0; // LBPME, LBPRZ
        }
        return CompletableFuture.completedFuture(ScsiResult.data(d, (int) Math.min(allocation, Integer.MAX_VALUE)));
    }
}
