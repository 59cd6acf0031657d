package io.tapdisk4j.iscsi.target.scsi;

import io.netty.buffer.ByteBuf;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/** PERSISTENT RESERVE IN and OUT (SPC-4 6.15, 6.16) over {@link PersistentReservations}. */
final class ReservationCommands {

    private final LogicalUnit lu;

    ReservationCommands(LogicalUnit lu) {
        this.lu = lu;
    }

    CompletableFuture<ScsiResult> in(ScsiRequest r) {
        byte[] cdb = r.cdb();
        int action = cdb[1] & 0x1f;
        int allocation = Bytes.u16(cdb, 7);
        PersistentReservations pr = lu.reservations();
        byte[] d;
        switch (action) {
            case 0 -> { // READ KEYS
                List<Long> keys;
                int generation;
                synchronized (pr) {
                    keys = pr.keys();
                    generation = pr.generation();
                }
                d = new byte[8 + 8 * keys.size()];
                Bytes.putInt(d, 0, generation);
                Bytes.putInt(d, 4, 8 * keys.size());
                for (int i = 0; i < keys.size(); i++) {
                    Bytes.putLong(d, 8 + 8 * i, keys.get(i));
                }
            }
            case 1 -> { // READ RESERVATION
                long[] res;
                int generation;
                synchronized (pr) {
                    res = pr.reservation();
                    generation = pr.generation();
                }
                d = new byte[res == null ? 8 : 24];
                Bytes.putInt(d, 0, generation);
                if (res != null) {
                    Bytes.putInt(d, 4, 16);
                    Bytes.putLong(d, 8, res[0]);
                    d[21] = (byte) res[1];
                }
            }
            case 2 -> { // REPORT CAPABILITIES
                d = new byte[8];
                Bytes.putShort(d, 0, 8);
                d[2] = 0x00;
                d[3] = (byte) 0x80; // TMV: the type mask is valid
                d[4] = (byte) (0x80 | 0x40 | 0x20 | 0x08 | 0x02); // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
                d[5] = 0x01; // EX_AC_AR
            }
            case 3 -> d = fullStatus(pr);
            default -> throw ScsiException.invalidFieldInCdb("PERSISTENT RESERVE IN service action " + action);
        }
        return CompletableFuture.completedFuture(ScsiResult.data(d, allocation));
    }

    /** READ FULL STATUS: every registration with its iSCSI TransportID (SPC-4 7.6.4.6, format 01b with ISID). */
    private static byte[] fullStatus(PersistentReservations pr) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        int generation;
        List<PersistentReservations.Registration> regs;
        synchronized (pr) {
            generation = pr.generation();
            regs = pr.registrations();
        }
        for (PersistentReservations.Registration reg : regs) {
            byte[] name = reg.nexus().transportId().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            int idLength = (name.length + 1 + 3) & ~3;
            byte[] d = new byte[24 + 4 + idLength];
            Bytes.putLong(d, 0, reg.key());
            d[12] = (byte) (reg.holder() ? 0x01 : 0);
            d[13] = (byte) (reg.holder() ? reg.type() : 0);
            Bytes.putShort(d, 18, 1); // relative target port
            Bytes.putInt(d, 20, 4 + idLength);
            d[24] = 0x45; // format 01b (with ISID), protocol iSCSI
            Bytes.putShort(d, 26, idLength);
            System.arraycopy(name, 0, d, 28, name.length);
            out.writeBytes(d);
        }
        byte[] body = out.toByteArray();
        byte[] d = new byte[8 + body.length];
        Bytes.putInt(d, 0, generation);
        Bytes.putInt(d, 4, body.length);
        System.arraycopy(body, 0, d, 8, body.length);
        return d;
    }

    CompletableFuture<ScsiResult> out(ScsiRequest r) {
        byte[] cdb = r.cdb();
        int action = cdb[1] & 0x1f;
        int scope = (cdb[2] & 0xf0) >>> 4;
        int type = cdb[2] & 0x0f;
        long listLength = Bytes.u32(cdb, 5);
        ByteBuf p = r.dataOut();
        if (action > 7) {
            throw ScsiException.invalidFieldInCdb("PERSISTENT RESERVE OUT service action " + action);
        }
        if (action == 7) {
            throw ScsiException.invalidFieldInCdb("REGISTER AND MOVE is not supported");
        }
        if (listLength != 24 || p.readableBytes() < 24) {
            throw ScsiException.parameterListLength("PERSISTENT RESERVE OUT list of " + listLength + " bytes");
        }
        int base = p.readerIndex();
        long key = p.getLong(base);
        long saKey = p.getLong(base + 8);
        int flags = p.getUnsignedByte(base + 20);
        if ((flags & 0x08) != 0 || (flags & 0x01) != 0) {
            throw ScsiException.invalidFieldInParameters("SPEC_I_PT / APTPL are not supported");
        }
        if ((action == 1 || action == 2 || action == 4 || action == 5) && scope != 0) {
            throw ScsiException.invalidFieldInCdb("scope " + scope);
        }
        PersistentReservations pr = lu.reservations();
        switch (action) {
            case 0 -> pr.register(r.nexus(), key, saKey, false);
            case 1 -> pr.reserve(r.nexus(), key, type);
            case 2 -> pr.release(r.nexus(), key, type);
            case 3 -> pr.clear(r.nexus(), key);
            case 4, 5 -> pr.preempt(r.nexus(), key, saKey, type);
            case 6 -> pr.register(r.nexus(), key, saKey, true);
            default -> throw ScsiException.invalidFieldInCdb("service action " + action);
        }
        return CompletableFuture.completedFuture(ScsiResult.good(24));
    }
}
