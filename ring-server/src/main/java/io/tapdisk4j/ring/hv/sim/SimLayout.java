package io.tapdisk4j.ring.hv.sim;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The file and socket names of ../shared/sim-xen-abi.md, and the grant entry layout (grant_entry_v1). */
public final class SimLayout {

    public static final int PAGE_SIZE = 4096;
    /** sizeof(grant_entry_v1). */
    public static final int GRANT_ENTRY_SIZE = 8;
    public static final int GRANT_FLAGS = 0;
    public static final int GRANT_DOMID = 2;
    public static final int GRANT_FRAME = 4;
    /** GNTTAB_NR_RESERVED_ENTRIES: Linux guests never hand out refs 0..7. */
    public static final int RESERVED_GRANT_REFS = 8;
    /** The backend is always domain 0. */
    public static final int BACKEND_DOMID = 0;

    private SimLayout() {
    }

    /**
     * A new directory for a simulation, on /dev/shm when the machine has it: guest memory stands for RAM,
     * and on a disk-backed /tmp the kernel would spend the run writing dirty guest pages back to disk.
     */
    public static Path newDirectory(String prefix) throws IOException {
        Path shm = Path.of("/dev/shm");
        if (Files.isDirectory(shm) && Files.isWritable(shm)) {
            return Files.createTempDirectory(shm, prefix);
        }
        return Files.createTempDirectory(prefix);
    }

    public static Path domainDir(Path dir, int domid) {
        return dir.resolve("dom" + domid);
    }

    public static Path memory(Path dir, int domid) {
        return domainDir(dir, domid).resolve("memory");
    }

    public static Path grantTable(Path dir, int domid) {
        return domainDir(dir, domid).resolve("grant-table");
    }

    public static Path eventChannel(Path dir, int domid, int port) {
        return domainDir(dir, domid).resolve("evtchn").resolve(port + ".sock");
    }

    public static Path xenstored(Path dir) {
        return dir.resolve("xenstored.sock");
    }
}
