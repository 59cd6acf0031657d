package io.tapdisk4j.app;

import io.tapdisk4j.app.daemon.ToolstackCommands;
import io.tapdisk4j.ring.xenstore.XsClient;
import io.tapdisk4j.ring.xenstore.XsException;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code ctl attach} and {@code ctl detach DOMID VDEV} from the command line: the toolstack's half, done in
 * xenstore directly (no daemon needed), so that an {@code xl} user can give a running guest a tapdisk4j disk.
 */
final class CtlToolstack {

    private CtlToolstack() {
    }

    static String attach(Path xenstored, List<String> args, String mode, String dataPath) throws XsException {
        List<String> all = new ArrayList<>(args);
        all.add("--mode");
        all.add(mode);
        if (dataPath != null) {
            all.add("--data-path");
            all.add(dataPath);
        }
        try (XsClient xs = XsClient.connect(xenstored)) {
            return ToolstackCommands.attach(xs, all);
        }
    }

    static String detach(Path xenstored, List<String> args, Duration timeout) throws XsException, InterruptedException {
        try (XsClient xs = XsClient.connect(xenstored)) {
            return ToolstackCommands.detach(xs, args, timeout);
        }
    }
}
