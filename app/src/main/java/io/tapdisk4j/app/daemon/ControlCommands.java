package io.tapdisk4j.app.daemon;

import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.ring.backend.BackendStats;
import io.tapdisk4j.ring.xenbus.Tapback;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenbus.VbdInfo;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The control socket's commands, in the spirit of tap-ctl: {@code list}, {@code stats [DOM/DEV]},
 * {@code pause DOM/DEV}, {@code resume DOM/DEV}, {@code detach DOM/DEV}, each optionally {@code --json}.
 */
final class ControlCommands {

    static final String USAGE = "commands: list | stats [DOMID/DEVID] | pause DOMID/DEVID"
            + " | resume DOMID/DEVID [--uri URI] | snapshot DOMID/DEVID | coalesce DOMID/DEVID"
            + " | detach DOMID/DEVID | attach DOMID VDEV URI [--mode r|w] [--data-path P] | detach DOMID VDEV"
            + " | export DOMID/DEVID PORT|unix:SOCKET [rw] [--protocol nbd|iscsi] | unexport DOMID/DEVID   (add --json for JSON)";

    private final Tapback tapback;
    private final Function<VbdId, DeviceMetrics> metrics;
    private final DeviceExports exports;
    private final LiveVdi live;

    ControlCommands(Tapback tapback, Map<VbdId, DeviceMetrics> metrics, DeviceExports exports) {
        this.tapback = tapback;
        this.metrics = metrics::get;
        this.exports = exports;
        this.live = new LiveVdi(tapback, tapback.options().devices());
    }

    /** Answers {@code line}; no secret of a device URI is in the answer. */
    ControlResponse execute(String line) {
        ControlResponse r = answer(line);
        return new ControlResponse(r.ok(), DeviceUri.redact(r.body()));
    }

    private ControlResponse answer(String line) {
        List<String> words = new ArrayList<>(Arrays.asList(line.trim().split("\\s+")));
        boolean json = words.remove("--json");
        String uri = null;
        int u = words.indexOf("--uri");
        if (u >= 0) {
            if (u + 1 >= words.size()) {
                return new ControlResponse(false, "--uri needs a URI; " + USAGE);
            }
            uri = words.remove(u + 1);
            words.remove(u);
        }
        String resumeUri = uri;
        if (words.isEmpty() || words.getFirst().isEmpty()) {
            return new ControlResponse(false, USAGE);
        }
        String cmd = words.removeFirst();
        try {
            return switch (cmd) {
                case "list" -> new ControlResponse(true, json ? listJson() : listText());
                case "stats" -> {
                    List<VbdInfo> devices = select(words);
                    yield new ControlResponse(true, json ? statsJson(devices) : statsText(devices));
                }
                case "pause" -> action(words, tapback::pause, json);
                case "resume" -> action(words, id -> tapback.resume(id, resumeUri), json);
                case "snapshot" -> action(words, id -> blocking(() -> live.snapshot(id)), json);
                case "coalesce" -> action(words, id -> blocking(() -> live.coalesce(id)), json);
                case "attach" -> new ControlResponse(true, ToolstackCommands.attach(tapback.xenstore(), words));
                case "detach" -> words.size() == 2 ? new ControlResponse(true,
                        ToolstackCommands.detach(tapback.xenstore(), words)) : action(words, tapback::detach, json);
                case "export" -> export(words);
                case "unexport" -> {
                    if (words.size() != 1) {
                        throw new IllegalArgumentException("which device? DOMID/DEVID; " + USAGE);
                    }
                    yield new ControlResponse(true, exports.unexport(VbdId.parse(words.getFirst())));
                }
                case "help" -> new ControlResponse(true, USAGE);
                default -> new ControlResponse(false, "unknown command '" + cmd + "'; " + USAGE);
            };
        } catch (IllegalArgumentException | IllegalStateException e) {
            return new ControlResponse(false, e.getMessage());
        } catch (java.io.IOException e) {
            return new ControlResponse(false, cmd + " failed: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new ControlResponse(false, cmd + " interrupted");
        }
    }

    private ControlResponse export(List<String> words) {
        List<String> args = new java.util.ArrayList<>(words);
        String protocol = "nbd";
        int p = args.indexOf("--protocol");
        if (p >= 0) {
            if (p + 1 >= args.size()) {
                throw new IllegalArgumentException("--protocol needs nbd or iscsi");
            }
            protocol = args.remove(p + 1);
            args.remove(p);
        }
        if (args.size() < 2 || args.size() > 3 || (args.size() == 3 && !args.get(2).equals("rw"))) {
            throw new IllegalArgumentException("export DOMID/DEVID PORT|unix:SOCKET [rw]; " + USAGE);
        }
        if (args.get(1).startsWith("unix:")) {
            try {
                return new ControlResponse(true, exports.exportUnix(VbdId.parse(args.getFirst()),
                        java.nio.file.Path.of(args.get(1).substring(5)), args.size() == 3));
            } catch (java.io.IOException e) {
                return new ControlResponse(false, "export failed: " + e.getMessage());
            }
        }
        int port;
        try {
            port = Integer.parseInt(args.get(1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a port: " + args.get(1));
        }
        try {
            return new ControlResponse(true, exports.export(VbdId.parse(args.getFirst()), port, args.size() == 3,
                    protocol));
        } catch (java.io.IOException e) {
            return new ControlResponse(false, "export failed: " + e.getMessage());
        }
    }

    /** Runs a live operation on the calling (virtual) thread; its failure becomes the command's error. */
    private static CompletableFuture<String> blocking(java.util.concurrent.Callable<String> op) {
        try {
            return CompletableFuture.completedFuture(op.call());
        } catch (Exception e) {
            Throwable c = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            return CompletableFuture.failedFuture(c);
        }
    }

    private List<VbdInfo> select(List<String> args) {
        if (args.isEmpty()) {
            return tapback.devices();
        }
        VbdId id = VbdId.parse(args.getFirst());
        return List.of(tapback.device(id.domid(), id.devid())
                .orElseThrow(() -> new IllegalArgumentException("no device " + id)));
    }

    private ControlResponse action(List<String> args, Function<VbdId, CompletableFuture<String>> f, boolean json) {
        if (args.size() != 1) {
            throw new IllegalArgumentException("which device? DOMID/DEVID; " + USAGE);
        }
        VbdId id = VbdId.parse(args.getFirst());
        try {
            String msg = f.apply(id).get(120, TimeUnit.SECONDS);
            return new ControlResponse(true, json ? new Json().beginObject().field("device", id.toString())
                    .field("result", msg).endObject().toString() : msg);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            return new ControlResponse(false, json ? new Json().beginObject().field("device", id.toString())
                    .field("error", c.getMessage()).endObject().toString() : c.getMessage());
        } catch (Exception e) {
            return new ControlResponse(false, id + ": " + e);
        }
    }

    private String listText() {
        StringBuilder b = new StringBuilder(String.format("%-6s %-7s %-11s %-22s %-10s %-6s %-5s %s%n", "DOMAIN",
                "DEVICE", "STATE", "PHASE", "DATA-PATH", "QUEUES", "ORDER", "URI"));
        for (VbdInfo d : tapback.devices()) {
            b.append(String.format("%-6d %-7d %-11s %-22s %-10s %-6d %-5d %s%s%n", d.id().domid(), d.id().devid(),
                    d.state(), d.phase(), d.dataPath() == null ? "-" : d.dataPath(), d.queues(), d.ringOrder(),
                    d.uri() == null ? "-" : DeviceUri.redact(d.uri()),
                    d.error() == null ? "" : "  error: " + DeviceUri.redact(d.error())));
        }
        return b.toString();
    }

    private String listJson() {
        Json j = new Json().beginArray();
        for (VbdInfo d : tapback.devices()) {
            j.beginObject().field("domain", d.id().domid()).field("device", d.id().devid())
                    .field("uri", DeviceUri.redact(d.uri())).field("state", d.state().name()).field("stateCode", d.state().code())
                    .field("phase", d.phase()).field("dataPath", d.dataPath()).field("queues", d.queues())
                    .field("ringOrder", d.ringOrder()).field("error", DeviceUri.redact(d.error())).endObject();
        }
        return j.endArray().toString();
    }

    private double[] percentiles(VbdInfo d) {
        DeviceMetrics m = metrics.apply(d.id());
        return m == null ? new double[]{Double.NaN, Double.NaN, Double.NaN} : m.percentilesMicros();
    }

    private String statsText(List<VbdInfo> devices) {
        StringBuilder b = new StringBuilder(String.format("%-14s %9s %9s %9s %7s %7s %12s %12s %6s %8s %9s %9s %9s%n",
                "DEVICE", "REQUESTS", "READS", "WRITES", "FLUSHES", "DISCARD", "READ-BYTES", "WRITE-BYTES", "ERRORS",
                "INFLIGHT", "P50-US", "P90-US", "P99-US"));
        for (VbdInfo d : devices) {
            BackendStats s = d.total();
            double[] p = percentiles(d);
            b.append(String.format("%-14s %9d %9d %9d %7d %7d %12d %12d %6d %8d %9s %9s %9s%n", d.id(), s.requests(),
                    s.reads(), s.writes(), s.flushes(), s.discards(), s.bytesRead(), s.bytesWritten(), s.errors(),
                    s.inFlight(), fmt(p[0]), fmt(p[1]), fmt(p[2])));
        }
        return b.toString();
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "-" : String.format("%.1f", v);
    }

    private String statsJson(List<VbdInfo> devices) {
        Json j = new Json().beginArray();
        for (VbdInfo d : devices) {
            BackendStats s = d.total();
            double[] p = percentiles(d);
            j.beginObject().field("domain", d.id().domid()).field("device", d.id().devid())
                    .field("requests", s.requests()).field("reads", s.reads()).field("writes", s.writes())
                    .field("flushes", s.flushes()).field("discards", s.discards())
                    .field("bytesRead", s.bytesRead()).field("bytesWritten", s.bytesWritten())
                    .field("errors", s.errors()).field("badRequests", s.badRequests())
                    .field("inFlight", s.inFlight())
                    .field("latencyMeanMicros", s.requests() == 0 ? 0.0 : s.latencyNanosSum() / 1e3 / s.requests())
                    .field("latencyMaxMicros", s.latencyNanosMax() / 1e3)
                    .name("latencyPercentilesMicros").beginObject()
                    .field("p50", p[0]).field("p90", p[1]).field("p99", p[2]).endObject()
                    .endObject();
        }
        return j.endArray().toString();
    }
}
