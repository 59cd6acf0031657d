package io.tapdisk4j.block.cbt;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where an image's changed-block log is: a local file (beside a {@code file:} image, or named with
 * {@code ?cbtlog=}), or a file beside the image on its own storage, reached through the image's transport
 * (an NFS SR). The commands read and write whole logs through it; {@link #openForTracking} opens it for a
 * {@link ChangeTrackingDevice}.
 */
public sealed interface CbtLogFile permits CbtLogFile.Local, CbtLogFile.OnStorage {

    boolean exists() throws IOException;

    /** Reads and checks the whole log. */
    CbtLog read() throws IOException;

    /** Replaces the whole log (or creates it); a crash meanwhile leaves the old log or an inconsistent one. */
    void write(CbtLog log) throws IOException;

    /** Removes the log; false when there was none. */
    boolean delete() throws IOException;

    OpenLog openForTracking() throws IOException;

    /** A local log file, its bitmap mapped while tracking. */
    record Local(Path path) implements CbtLogFile {
        @Override
        public boolean exists() {
            return Files.exists(path);
        }

        @Override
        public CbtLog read() throws IOException {
            return CbtLog.read(path);
        }

        @Override
        public void write(CbtLog log) throws IOException {
            log.write(path);
        }

        @Override
        public boolean delete() throws IOException {
            return Files.deleteIfExists(path);
        }

        @Override
        public OpenLog openForTracking() throws IOException {
            return MappedLog.open(path);
        }

        @Override
        public String toString() {
            return path.toString();
        }
    }

    /** A log file on the image's own storage, written through its transport with stable writes. */
    record OnStorage(DeviceUri uri, BlockDevices registry) implements CbtLogFile {
        private static final OpenOptions RAW = OpenOptions.DEFAULT.withFormat("raw").withUntracked(true);

        @Override
        public boolean exists() throws IOException {
            return registry.provider(uri).exists(uri);
        }

        @Override
        public CbtLog read() throws IOException {
            try (BlockDevice d = registry.openTransport(uri, RAW.withReadOnly(true))) {
                return RemoteLog.read(d);
            }
        }

        @Override
        public void write(CbtLog log) throws IOException {
            long length = CbtLog.HEADER_SIZE + CbtLog.bitmapBytes(log.size());
            if (exists()) {
                try (BlockDevice d = registry.openTransport(uri, RAW)) {
                    if (d.size() == length) {
                        RemoteLog.write(d, log);
                        return;
                    }
                }
                registry.provider(uri).remove(uri); // another size: a new file
            }
            try (BlockDevice d = registry.provider(uri).create(uri, length)) {
                RemoteLog.write(d, log);
            }
        }

        @Override
        public boolean delete() throws IOException {
            if (!exists()) {
                return false;
            }
            registry.provider(uri).remove(uri);
            return true;
        }

        @Override
        public OpenLog openForTracking() throws IOException {
            return RemoteLog.open(registry.openTransport(uri, RAW));
        }

        @Override
        public String toString() {
            return uri.toString();
        }
    }
}
