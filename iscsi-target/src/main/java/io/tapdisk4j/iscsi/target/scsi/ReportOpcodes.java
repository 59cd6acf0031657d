package io.tapdisk4j.iscsi.target.scsi;

import java.io.ByteArrayOutputStream;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** REPORT SUPPORTED OPERATION CODES (SPC-4 6.35), from the dispatcher's command table. */
final class ReportOpcodes {

    /** Nominal and recommended timeouts reported with RCTD, in seconds. */
    private static final int NOMINAL_TIMEOUT = 10;
    private static final int RECOMMENDED_TIMEOUT = 30;

    private final List<CommandSpec> commands;

    ReportOpcodes(List<CommandSpec> commands) {
        this.commands = commands;
    }

    CompletableFuture<ScsiResult> execute(ScsiRequest r) {
        byte[] cdb = r.cdb();
        boolean rctd = (cdb[2] & 0x80) != 0;
        int options = cdb[2] & 0x07;
        int opcode = Bytes.u8(cdb, 3);
        int action = Bytes.u16(cdb, 4);
        long allocation = Bytes.u32(cdb, 6);
        int limit = (int) Math.min(allocation, Integer.MAX_VALUE);
        return CompletableFuture.completedFuture(switch (options) {
            case 0 -> ScsiResult.data(all(rctd), limit);
            case 1, 2, 3 -> ScsiResult.data(one(options, opcode, action, rctd), limit);
            default -> throw ScsiException.invalidFieldInCdb("REPORTING OPTIONS " + options);
        });
    }

    private byte[] all(boolean rctd) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (CommandSpec c : commands) {
            byte[] d = new byte[8];
            d[0] = (byte) c.opcode();
            if (c.serviceAction() >= 0) {
                Bytes.putShort(d, 2, c.serviceAction());
            }
            d[5] = (byte) ((c.serviceAction() >= 0 ? 0x01 : 0) | (rctd ? 0x02 : 0));
            Bytes.putShort(d, 6, c.cdbLength());
            out.writeBytes(d);
            if (rctd) {
                out.writeBytes(timeouts());
            }
        }
        byte[] body = out.toByteArray();
        byte[] d = new byte[4 + body.length];
        Bytes.putInt(d, 0, body.length);
        System.arraycopy(body, 0, d, 4, body.length);
        return d;
    }

    private static byte[] timeouts() {
        byte[] t = new byte[12];
        Bytes.putShort(t, 0, 0x0a);
        Bytes.putInt(t, 4, NOMINAL_TIMEOUT);
        Bytes.putInt(t, 8, RECOMMENDED_TIMEOUT);
        return t;
    }

    private byte[] one(int options, int opcode, int action, boolean rctd) {
        boolean hasActions = commands.stream().anyMatch(c -> c.opcode() == opcode && c.serviceAction() >= 0);
        if (options == 1 && hasActions) {
            throw ScsiException.invalidFieldInCdb("opcode " + opcode + " has service actions");
        }
        if (options == 2 && !hasActions && commands.stream().anyMatch(c -> c.opcode() == opcode)) {
            throw ScsiException.invalidFieldInCdb("opcode " + opcode + " has no service actions");
        }
        CommandSpec found = null;
        for (CommandSpec c : commands) {
            if (c.opcode() == opcode && (c.serviceAction() < 0 || (options != 1 && c.serviceAction() == action))) {
                found = c;
            }
        }
        if (found == null) {
            byte[] d = new byte[4];
            d[1] = 0x01; // not supported
            return d;
        }
        byte[] usage = found.usage();
        byte[] t = rctd ? timeouts() : new byte[0];
        byte[] d = new byte[4 + usage.length + t.length];
        d[1] = (byte) ((rctd ? 0x80 : 0) | 0x03); // CTDP, supported as the standard says
        Bytes.putShort(d, 2, usage.length);
        System.arraycopy(usage, 0, d, 4, usage.length);
        System.arraycopy(t, 0, d, 4 + usage.length, t.length);
        return d;
    }
}
