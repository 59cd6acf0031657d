package io.tapdisk4j.app;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * `vdi NAME` builds a command tree of only that subcommand (start-up), yet reads as the whole tree does:
 * the same options (--force inherited from vdi), and every subcommand for `vdi`, `vdi --help` or a typo.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class StartupTreeTest {

    @TempDir
    Path dir;

    private static Set<String> vdiSubcommands(String... args) {
        return Main.commandLine(args).getSubcommands().get("vdi").getSubcommands().keySet();
    }

    @Test
    void vdiInfoBuildsOnlyInfo() {
        assertEquals(Set.of("info"), vdiSubcommands("vdi", "info", "file:///x"));
        assertEquals(Set.of("copy"), vdiSubcommands("vdi", "copy", "a", "b"));
    }

    @Test
    void anythingElseBuildsTheWholeVdiTree() {
        Set<String> all = Set.of("create", "info", "check", "snapshot", "clone", "coalesce", "copy", "resize", "cbt",
                "backup");
        assertEquals(all, vdiSubcommands("vdi"));
        assertEquals(all, vdiSubcommands("vdi", "--help"));
        assertEquals(all, vdiSubcommands("vdi", "infos"));
        assertEquals(all, Main.commandLine().getSubcommands().get("vdi").getSubcommands().keySet());
        assertEquals(all, new CommandLine(new Main()).getSubcommands().get("vdi").getSubcommands().keySet());
    }

    @Test
    void theNarrowTreeKeepsInheritedOptionsAndUsage() throws Exception {
        Path img = Files.write(dir.resolve("a.raw"), new byte[4096]);
        PrintStream original = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            assertEquals(0, Main.run("vdi", "info", "--force", "file://" + img));
            assertEquals(0, Main.run("vdi", "info", "--help"));
        } finally {
            System.setOut(original);
        }
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("virtual size: 4096"), text);
        assertTrue(text.contains("Usage: tapdisk4j vdi info"), text);
        CommandLine info = Main.commandLine("vdi", "info", "x").getSubcommands().get("vdi").getSubcommands().get("info");
        assertTrue(info.getCommandSpec().findOption("--force") != null, "--force is inherited from vdi");
    }
}
