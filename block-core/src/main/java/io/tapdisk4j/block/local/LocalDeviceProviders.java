package io.tapdisk4j.block.local;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDeviceProvider;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/** The devices block-core itself provides: {@code file:}, {@code memory:} and {@code null:}. */
public final class LocalDeviceProviders {

    private LocalDeviceProviders() {
    }

    /**
     * {@code file:///abs/path[?direct=1][&writeback=SIZE]}: {@code writeback} bounds the buffered writes the page
     * cache holds before they start going to the disk (default 32M; 0 leaves it to the kernel).
     */
    public static final class FileScheme implements BlockDeviceProvider {
        @Override
        public Set<String> schemes() {
            return Set.of("file");
        }

        static String path(DeviceUri uri) throws BlockDeviceException {
            if (uri.host() != null && !uri.host().equals("localhost")) {
                throw new BlockDeviceException(BlockError.EINVAL, "file URIs name local files: " + uri);
            }
            if (!uri.path().startsWith("/")) {
                throw new BlockDeviceException(BlockError.EINVAL, "file URI needs an absolute path (file:///srv/disk.raw): " + uri);
            }
            return uri.path();
        }

        @Override
        public BlockDevice open(DeviceUri uri, OpenOptions options) throws IOException {
            return FileDevice.open(path(uri), options.readOnly(), direct(uri, options), writebackEvery(uri));
        }

        static boolean direct(DeviceUri uri, OpenOptions options) {
            return options.directIo() || uri.param("direct").map(v -> v.equals("1") || v.equals("true")).orElse(false);
        }

        static long writebackEvery(DeviceUri uri) throws BlockDeviceException {
            String v = uri.param("writeback").orElse(null);
            if (v == null) {
                return WritebackTrigger.DEFAULT_EVERY;
            }
            try {
                return io.tapdisk4j.block.Sizes.parse(v);
            } catch (IllegalArgumentException e) {
                throw new BlockDeviceException(BlockError.EINVAL, "file URI parameter writeback takes a size (32M, 0 for "
                        + "the kernel's own writeback), not '" + v + "': " + uri);
            }
        }

        @Override
        public BlockDevice create(DeviceUri uri, long size) throws IOException {
            return create(uri, size, OpenOptions.DEFAULT);
        }

        @Override
        public BlockDevice create(DeviceUri uri, long size, OpenOptions options) throws IOException {
            return FileDevice.create(path(uri), size, direct(uri, options), writebackEvery(uri));
        }

        @Override
        public void remove(DeviceUri uri) throws IOException {
            try {
                Files.delete(Path.of(path(uri)));
            } catch (NoSuchFileException e) {
                throw new BlockDeviceException(BlockError.EINVAL, "no such file: " + uri, e);
            }
        }

        /** rename(2); refuses an existing target, and a move across file systems (which would be a copy). */
        @Override
        public void rename(DeviceUri from, DeviceUri to) throws IOException {
            Path source = Path.of(path(from));
            Path target = Path.of(path(to));
            if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                throw new BlockDeviceException(BlockError.EINVAL, "cannot rename " + from + " to " + to + ": it exists");
            }
            try {
                Files.move(source, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (NoSuchFileException e) {
                throw new BlockDeviceException(BlockError.EINVAL, "no such file: " + from, e);
            } catch (AtomicMoveNotSupportedException e) {
                throw new BlockDeviceException(BlockError.ENOTSUP, "cannot rename " + from + " to " + to
                        + " atomically (another file system?)", e);
            }
        }

        @Override
        public List<String> list(DeviceUri directory) throws IOException {
            try (Stream<Path> s = Files.list(Path.of(path(directory)))) {
                return s.filter(Files::isRegularFile).map(p -> p.getFileName().toString()).sorted().toList();
            }
        }

        @Override
        public DeviceUri resolve(DeviceUri base, String name) {
            Path parent = Path.of(base.path()).getParent();
            Path p = name.startsWith("/") ? Path.of(name) : (parent == null ? Path.of(name) : parent.resolve(name));
            return DeviceUri.parse("file://" + p.normalize());
        }
    }

    /**
     * {@code memory:[NAME]?size=S}: a sparse in-memory disk. A named one is shared by every open in the
     * process (so the ring server and the NBD export can see the same disk); an unnamed one is new each time.
     */
    public static final class MemoryScheme implements BlockDeviceProvider {
        private static final ConcurrentHashMap<String, MemoryDevice> NAMED = new ConcurrentHashMap<>();

        @Override
        public Set<String> schemes() {
            return Set.of("memory");
        }

        @Override
        public BlockDevice open(DeviceUri uri, OpenOptions options) {
            long size = uri.sizeParam("size", 1L << 30);
            String name = uri.path();
            if (name.isEmpty()) {
                return new MemoryDevice("", size);
            }
            return NAMED.computeIfAbsent(name, n -> new MemoryDevice(n, size));
        }

        @Override
        public BlockDevice create(DeviceUri uri, long size) {
            String name = uri.path();
            MemoryDevice d = new MemoryDevice(name, size);
            if (!name.isEmpty()) {
                NAMED.put(name, d);
            }
            return d;
        }
    }

    /** {@code null:?size=S}: reads zeroes, discards writes. */
    public static final class NullScheme implements BlockDeviceProvider {
        @Override
        public Set<String> schemes() {
            return Set.of("null");
        }

        @Override
        public BlockDevice open(DeviceUri uri, OpenOptions options) {
            return new NullDevice(uri.sizeParam("size", 1L << 40));
        }

        @Override
        public BlockDevice create(DeviceUri uri, long size) {
            return new NullDevice(size);
        }
    }
}
