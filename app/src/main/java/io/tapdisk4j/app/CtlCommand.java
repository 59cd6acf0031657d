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
        "  detach DOMID/DEVID      drain, disconnect and release the device",
        "As a toolstack (writes xenstore itself, for xl users; no daemon needed):",
        "  attach DOMID VDEV URI [--mode r|w] [--data-path P]   give a guest a vbd3 disk (VDEV: xvda or 51712)",
        "  detach DOMID VDEV       online = 0, wait for the backend to let go, remove the vbd3 nodes"})
final class CtlCommand implements Callable<Integer> {

    @Option(names = "--sim", paramLabel = "DIR", description = "The daemon runs with --sim DIR (socket DIR/tapdisk4j.sock).")
    Path sim;

    @Option(names = "--socket", paramLabel = "SOCKET", description = "The control socket (overrides --sim).")
    Path socket;

    @Option(names = "--json", description = "Answer in JSON.")
    boolean json;

    @Option(names = "--protocol", paramLabel = "nbd|iscsi", description = "export: the protocol (default nbd).")
    String protocol;

    @Option(names = "--uri", paramLabel = "URI", description = "With resume: the image to serve from now on.")
    String uri;

    @Parameters(arity = "1..4", paramLabel = "COMMAND [DEVICE] [ARGS]",
            description = "list | stats | pause | resume | snapshot | coalesce | detach | attach DOMID VDEV URI"
                    + " | export DOM/DEV PORT [rw] [--protocol iscsi] | unexport DOM/DEV")
    List<String> command;

    @Option(names = "--mode", paramLabel = "r|w", defaultValue = "w", description = "attach: read-only or read-write.")
    String mode;

    @Option(names = "--data-path", paramLabel = "PATH", description = "attach: this device's data path.")
    String dataPath;

    @Option(names = "--xenstored", paramLabel = "SOCKET",
            description = "attach/detach DOMID VDEV: xenstored's socket (default DIR/xenstored.sock, or /var/run/xenstored/socket).")
    Path xenstored;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "30",
            description = "detach DOMID VDEV: how long to wait for the backend to release the device.")
    int timeoutSeconds;

    @Override
    public Integer call() throws Exception {
        String verb = command.getFirst();
        if (verb.equals("attach") || (verb.equals("detach") && command.size() == 3)) {
            Path xs = xenstored != null ? xenstored
                    : sim != null ? sim.resolve("xenstored.sock") : DaemonOptions.XEN_XENSTORED;
            if (verb.equals("attach") && command.size() != 4) {
                throw new IllegalArgumentException("attach DOMID VDEV URI [--mode r|w]");
            }
            List<String> args = command.subList(1, command.size());
            System.out.println(verb.equals("attach") ? CtlToolstack.attach(xs, args, mode, dataPath)
                    : CtlToolstack.detach(xs, args, java.time.Duration.ofSeconds(timeoutSeconds)));
            return 0;
        }
        Path s = socket != null ? socket : DaemonOptions.defaultControl(sim);
        ControlResponse r = ControlClient.request(s, String.join(" ", command)
                + (protocol != null ? " --protocol " + protocol : "") + (uri != null ? " --uri " + uri : "")
                + (json ? " --json" : ""));
        (r.ok() ? System.out : System.err).print(r.body().endsWith("\n") ? r.body() : r.body() + "\n");
        return r.ok() ? 0 : 1;
    }
}
