package io.tapdisk4j.app;

import io.tapdisk4j.app.daemon.ControlClient;
import io.tapdisk4j.app.daemon.ControlResponse;
import io.tapdisk4j.app.daemon.DaemonOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code tapdisk4j ctl}: talks to a running {@code serve} through its control socket, like tap-ctl. */
@Command(name = "ctl", description = {"Control a running `tapdisk4j serve`:",
        "  list                    every device: domain, device, state, data path, queues, URI",
        "  stats [DOMID/DEVID]     requests, bytes, errors, in flight, latency percentiles",
        "  pause DOMID/DEVID       drain and stop serving (requests wait on the ring)",
        "  resume DOMID/DEVID      serve again",
        "  detach DOMID/DEVID      drain, disconnect and release the device"})
final class CtlCommand implements Callable<Integer> {

    @Option(names = "--sim", paramLabel = "DIR", description = "The daemon runs with --sim DIR (socket DIR/tapdisk4j.sock).")
    Path sim;

    @Option(names = "--socket", paramLabel = "SOCKET", description = "The control socket (overrides --sim).")
    Path socket;

    @Option(names = "--json", description = "Answer in JSON.")
    boolean json;

    @Option(names = "--protocol", paramLabel = "nbd|iscsi", description = "export: the protocol (default nbd).")
    String protocol;

    @Parameters(arity = "1..4", paramLabel = "COMMAND [DEVICE] [ARGS]",
            description = "list | stats | pause | resume | detach | export DOM/DEV PORT [rw] [--protocol iscsi] | unexport DOM/DEV")
    List<String> command;

    @Override
    public Integer call() throws Exception {
        Path s = socket != null ? socket : DaemonOptions.defaultControl(sim);
        ControlResponse r = ControlClient.request(s, String.join(" ", command)
                + (protocol != null ? " --protocol " + protocol : "") + (json ? " --json" : ""));
        (r.ok() ? System.out : System.err).print(r.body().endsWith("\n") ? r.body() : r.body() + "\n");
        return r.ok() ? 0 : 1;
    }
}
