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
@Command(name = "ctl", mixinStandardHelpOptions = true, description = {"Control a running `tapdisk4j serve`:",
        "  list                    every device: domain, device, state, data path, queues, URI",
        "  stats [DOMID/DEVID]     requests, bytes, errors, in flight, latency percentiles",
        "  pause DOMID/DEVID       drain, close the image chain, stop serving (requests wait on the ring)",
        "  resume DOMID/DEVID [--uri URI]",
        "                          reopen the image (the same URI, or URI: a relink) and serve again",
        "  snapshot DOMID/DEVID    live snapshot: pause, snapshot the image, resume on the new child",
        "  coalesce DOMID/DEVID    online leaf-coalesce into the parent while the guest keeps writing",
        "  detach DOMID/DEVID      drain, disconnect and release the device"})
final class CtlCommand implements Callable<Integer> {

    @Option(names = "--sim", paramLabel = "DIR", description = "The daemon runs with --sim DIR (socket DIR/tapdisk4j.sock).")
    Path sim;

    @Option(names = "--socket", paramLabel = "SOCKET", description = "The control socket (overrides --sim).")
    Path socket;

    @Option(names = "--json", description = "Answer in JSON.")
    boolean json;

    @Option(names = "--uri", paramLabel = "URI", description = "With resume: the image to serve from now on.")
    String uri;

    @Parameters(arity = "1..4", paramLabel = "COMMAND [DEVICE] [ARGS]",
            description = "list | stats | pause | resume | snapshot | coalesce | detach | export DOM/DEV PORT [rw] | unexport DOM/DEV")
    List<String> command;

    @Override
    public Integer call() throws Exception {
        Path s = socket != null ? socket : DaemonOptions.defaultControl(sim);
        ControlResponse r = ControlClient.request(s, String.join(" ", command)
                + (uri != null ? " --uri " + uri : "") + (json ? " --json" : ""));
        (r.ok() ? System.out : System.err).print(r.body().endsWith("\n") ? r.body() : r.body() + "\n");
        return r.ok() ? 0 : 1;
    }
}
