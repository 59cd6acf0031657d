package io.tapdisk4j.app;

import io.tapdisk4j.block.BlockDevices;
import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/** Lists the URI schemes and image formats this build can open. */
@Command(name = "devices", description = "List the storage URI schemes and image formats this build supports.")
final class DevicesCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        BlockDevices devices = BlockDevices.loadDefault();
        System.out.println("schemes: " + String.join(", ", devices.schemes()));
        System.out.println("formats: " + String.join(", ", devices.formatNames()));
        return 0;
    }
}
