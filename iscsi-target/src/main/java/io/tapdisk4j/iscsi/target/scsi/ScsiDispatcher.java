package io.tapdisk4j.iscsi.target.scsi;

import io.tapdisk4j.iscsi.target.scsi.PersistentReservations.Access;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Routes a CDB to the family that executes it, after the checks every command gets: a pending unit
 * attention, then a reservation conflict. Every failure becomes a {@link ScsiResult} with sense; the
 * request's Data-Out reference is released here once the handler has taken what it keeps.
 */
public final class ScsiDispatcher {

    private final LogicalUnit lu;
    private final List<CommandSpec> commands = new ArrayList<>();
    private final CommandSpec[] byOpcode = new CommandSpec[256];

    public ScsiDispatcher(LogicalUnit lu, String targetName) {
        this.lu = lu;
        BasicCommands basic = new BasicCommands(lu);
        InquiryCommand inquiry = new InquiryCommand(lu, targetName);
        ReadWriteCommands rw = new ReadWriteCommands(lu);
        ProvisioningCommands prov = new ProvisioningCommands(lu);
        ModePages mode = new ModePages(lu);
        ReservationCommands pr = new ReservationCommands(lu);
        ReportOpcodes report = new ReportOpcodes(commands);
        add(0x00, -1, 6, Access.NONE, false, basic::testUnitReady);
        add(0x03, -1, 6, Access.NONE, true, basic::requestSense);
        add(0x08, -1, 6, Access.READ, false, rw::read);
        add(0x0a, -1, 6, Access.WRITE, false, r -> rw.write(r, false));
        add(0x12, -1, 6, Access.NONE, true, inquiry);
        add(0x15, -1, 6, Access.WRITE, false, mode::select);
        add(0x1a, -1, 6, Access.READ, false, mode::sense);
        add(0x25, -1, 10, Access.NONE, false, basic::readCapacity10);
        add(0x28, -1, 10, Access.READ, false, rw::read);
        add(0x2a, -1, 10, Access.WRITE, false, r -> rw.write(r, false));
        add(0x2e, -1, 10, Access.WRITE, false, r -> rw.write(r, true));
        add(0x2f, -1, 10, Access.READ, false, rw::verify);
        add(0x35, -1, 10, Access.WRITE, false, rw::synchronizeCache);
        add(0x41, -1, 10, Access.WRITE, false, prov::writeSame);
        if (lu.thin()) {
            add(0x42, -1, 10, Access.WRITE, false, prov::unmap);
        }
        add(0x55, -1, 10, Access.WRITE, false, mode::select);
        add(0x5a, -1, 10, Access.READ, false, mode::sense);
        add(0x5e, 0x00, 10, Access.NONE, false, pr::in);
        add(0x5e, 0x01, 10, Access.NONE, false, pr::in);
        add(0x5e, 0x02, 10, Access.NONE, false, pr::in);
        add(0x5e, 0x03, 10, Access.NONE, false, pr::in);
        for (int sa = 0; sa <= 6; sa++) {
            add(0x5f, sa, 10, Access.NONE, false, pr::out);
        }
        add(0x88, -1, 16, Access.READ, false, rw::read);
        add(0x89, -1, 16, Access.WRITE, false, rw::compareAndWrite);
        add(0x8a, -1, 16, Access.WRITE, false, r -> rw.write(r, false));
        add(0x8e, -1, 16, Access.WRITE, false, r -> rw.write(r, true));
        add(0x8f, -1, 16, Access.READ, false, rw::verify);
        add(0x91, -1, 16, Access.WRITE, false, rw::synchronizeCache);
        add(0x93, -1, 16, Access.WRITE, false, prov::writeSame);
        add(0x9e, 0x10, 16, Access.NONE, false, basic::readCapacity16);
        add(0x9e, 0x12, 16, Access.READ, false, prov::getLbaStatus);
        add(0xa0, -1, 12, Access.NONE, true, basic::reportLuns);
        add(0xa3, 0x0c, 12, Access.NONE, false, report::execute);
        add(0xa8, -1, 12, Access.READ, false, rw::read);
        add(0xaa, -1, 12, Access.WRITE, false, r -> rw.write(r, false));
        add(0xae, -1, 12, Access.WRITE, false, r -> rw.write(r, true));
        add(0xaf, -1, 12, Access.READ, false, rw::verify);
    }

    private void add(int opcode, int serviceAction, int cdbLength, Access access, boolean exempt, CommandHandler h) {
        CommandSpec c = new CommandSpec(opcode, serviceAction, cdbLength, access, exempt, h);
        commands.add(c);
        if (byOpcode[opcode] == null) {
            byOpcode[opcode] = c;
        }
    }

    public LogicalUnit logicalUnit() {
        return lu;
    }

    private CommandSpec find(byte[] cdb) {
        int opcode = cdb[0] & 0xff;
        CommandSpec first = byOpcode[opcode];
        if (first == null) {
            throw ScsiException.invalidOpcode(opcode);
        }
        if (first.serviceAction() < 0) {
            return first;
        }
        int action = cdb[1] & 0x1f;
        for (CommandSpec c : commands) {
            if (c.opcode() == opcode && c.serviceAction() == action) {
                return c;
            }
        }
        throw ScsiException.invalidFieldInCdb("service action " + action + " of opcode " + opcode);
    }

    /** Executes {@code r}; never fails: errors come back as CHECK CONDITION results. */
    public CompletableFuture<ScsiResult> execute(ScsiRequest r) {
        CompletableFuture<ScsiResult> f;
        try {
            CommandSpec c = find(r.cdb());
            if (r.cdb().length < c.cdbLength()) {
                throw ScsiException.invalidFieldInCdb("CDB of " + r.cdb().length + " bytes");
            }
            if (!c.attentionExempt()) {
                PersistentReservations.Attention a = lu.reservations().takeAttention(r.nexus());
                if (a != null) {
                    throw new ScsiException(Sense.UNIT_ATTENTION, a.asc(), a.ascq(), "unit attention");
                }
            }
            if (lu.reservations().conflicts(r.nexus(), c.access())) {
                throw ScsiException.reservationConflict();
            }
            f = c.handler().execute(r);
        } catch (ScsiException e) {
            f = CompletableFuture.failedFuture(e);
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(new ScsiException(Sense.ABORTED_COMMAND, 0x00, 0x00, String.valueOf(e)));
        } finally {
            r.dataOut().release();
        }
        return f.exceptionally(t -> {
            Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
            ScsiException s = cause instanceof ScsiException se ? se : DeviceErrors.toScsi(cause, false);
            return s.toResult(lu.descriptorSense());
        });
    }
}
