package io.tapdisk4j.app;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.iscsi.device.IscsiUrl;
import io.tapdisk4j.iscsi.scsi.Cdb;
import io.tapdisk4j.iscsi.scsi.ReportLuns;
import io.tapdisk4j.iscsi.session.IscsiSession;
import io.tapdisk4j.iscsi.session.ScsiCommand;
import io.tapdisk4j.iscsi.session.ScsiResult;

import java.io.IOException;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * {@code sr ls iscsi://portal}, as iscsi-ls: the portal's targets (SendTargets discovery), each target's LUNs
 * (REPORT LUNS), and for each LUN its size, or why it is not a disk (a target's LUN 0 is often its controller).
 */
final class IscsiPortalListing {

    private IscsiPortalListing() {
    }

    static int print(String portal, PrintStream out) throws IOException {
        BlockDevices devices = BlockDevices.loadDefault();
        DeviceUri p = DeviceUri.parse(portal);
        String base = portal.replaceAll("/+$", "");
        int q = base.indexOf('?');
        String query = q < 0 ? "" : base.substring(q);
        base = q < 0 ? base : base.substring(0, q);
        List<String> targets = devices.provider(p).list(p);
        out.printf(Locale.ROOT, "%-50s %4s %15s  %s%n", "TARGET", "LUN", "SIZE", "DEVICE");
        for (String target : targets) {
            List<Integer> luns;
            try {
                luns = reportLuns(DeviceUri.parse(base + "/" + target + "/0" + query));
            } catch (IOException e) {
                out.printf(Locale.ROOT, "%-50s %4s %15s  %s%n", target, "-", "-",
                        "cannot list LUNs: " + DeviceUri.redact(e.getMessage()));
                continue;
            }
            for (int lun : luns) {
                String uri = base + "/" + target + "/" + lun + query;
                try (BlockDevice d = devices.open(DeviceUri.parse(uri), OpenOptions.readOnlyOptions())) {
                    out.printf(Locale.ROOT, "%-50s %4d %15d  %s%n", target, lun, d.size(), DeviceUri.redact(uri));
                } catch (IOException | RuntimeException e) {
                    String why = e.getMessage() != null && e.getMessage().contains("is not a disk") ? "not a disk"
                            : DeviceUri.redact(String.valueOf(e.getMessage()));
                    out.printf(Locale.ROOT, "%-50s %4d %15s  %s%n", target, lun, "-", why);
                }
            }
        }
        return 0;
    }

    private static List<Integer> reportLuns(DeviceUri lun0) throws IOException {
        IscsiUrl url = IscsiUrl.parse(lun0);
        try (IscsiSession session = IscsiSession.open(url.sessionConfig()).get(60, TimeUnit.SECONDS)) {
            ScsiResult r = session.execute(ScsiCommand.read(0, Cdb.reportLuns(4096), 4096)).get(60, TimeUnit.SECONDS);
            try {
                return ReportLuns.parse(r.data());
            } finally {
                r.data().release();
            }
        } catch (ExecutionException e) {
            Throwable c = BlockDeviceException.unwrap(e);
            throw c instanceof IOException io ? io : new IOException(url.display() + ": " + c.getMessage(), c);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IOException(url.display() + ": no answer to login or REPORT LUNS", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
