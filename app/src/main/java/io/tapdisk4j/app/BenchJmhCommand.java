package io.tapdisk4j.app;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "jmh", description = "JMH microbenchmarks of the hot paths (ring decode, grant copy, NBD codec, "
        + "XDR, iSCSI PDU). Arguments go to JMH, e.g. -f 1 -wi 2 -i 3 Ring.")
final class BenchJmhCommand implements Callable<Integer> {

    @Parameters(arity = "0..*", description = "JMH arguments.")
    List<String> args = List.of();

    @Override
    public Integer call() throws Exception {
        org.openjdk.jmh.Main.main(args.toArray(String[]::new));
        return 0;
    }
}
