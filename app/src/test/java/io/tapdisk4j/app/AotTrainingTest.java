package io.tapdisk4j.app;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.PrintStream;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;

/**
 * The launcher's training run for the AOT cache: a command that breaks makes the launcher start without a
 * cache (a second slower on every call, and silent), so the run itself must succeed; and the packages it
 * loads for the network clients must still exist under those names, or the cache quietly stops holding them.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class AotTrainingTest {

    @Test
    void trainingRunSucceedsAndGivesTheConsoleBack() {
        PrintStream out = System.out;
        PrintStream err = System.err;
        assertEquals(0, Main.run("aot-training"));
        assertSame(out, System.out);
        assertSame(err, System.err);
    }

    @Test
    void networkCommandsOfTheTrainingSucceedAgainstItsOwnServers(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        String raw = "file://" + dir.resolve("t.raw");
        assertEquals(0, Main.run("vdi", "create", raw, "--size", "8M"));
        assertEquals(java.util.Collections.nCopies(6, 0), AotTrainingCommand.overOwnServers(dir, raw));
    }

    @Test
    void everyNetworkPackageOfTheTrainingExists() {
        ClassLoader loader = AotTrainingCommand.class.getClassLoader();
        for (String p : AotTrainingCommand.NETWORK_PACKAGES) {
            String resource = p.endsWith("/") ? p : p.substring(0, p.lastIndexOf('/') + 1);
            assertNotNull(loader.getResource(resource), "no package " + resource + " on the class path");
        }
    }
}
