package io.tapdisk4j.app;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every command and subcommand of the picocli tree answers --help with its usage and exit status 0. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HelpTest {

    private static void collect(CommandLine c, List<String> path, Set<List<String>> out) {
        out.add(path);
        c.getSubcommands().forEach((name, sub) -> {
            if (sub.getCommandName().equals(name)) { // aliases lead to the same command
                List<String> p = new ArrayList<>(path);
                p.add(name);
                collect(sub, p, out);
            }
        });
    }

    @Test
    void everyCommandAnswersHelp() {
        Set<List<String>> paths = new LinkedHashSet<>();
        collect(Main.commandLine(), List.of(), paths);
        assertTrue(paths.size() > 20, "the whole tree: " + paths);
        PrintStream original = System.out;
        PrintStream originalErr = System.err;
        try {
            for (List<String> path : paths) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                ByteArrayOutputStream err = new ByteArrayOutputStream();
                System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
                System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
                List<String> args = new ArrayList<>(path);
                args.add("--help");
                int status = Main.run(args.toArray(String[]::new));
                String text = out.toString(StandardCharsets.UTF_8);
                String name = String.join(" ", path);
                assertEquals(0, status, name + " --help: " + text + err.toString(StandardCharsets.UTF_8));
                assertTrue(text.contains("Usage: tapdisk4j" + (path.isEmpty() ? "" : " " + name)),
                        name + " --help printed: " + text);
                assertEquals("", err.toString(StandardCharsets.UTF_8), name + " --help wrote to stderr");
            }
        } finally {
            System.setOut(original);
            System.setErr(originalErr);
        }
    }
}
