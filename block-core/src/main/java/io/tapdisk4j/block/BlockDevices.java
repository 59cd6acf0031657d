package io.tapdisk4j.block;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * The registry of transports (by URI scheme) and formats. {@link #open} opens the transport a URI names and
 * layers the image format on top: the one named in the options or the URI's {@code format=} parameter,
 * else the first that recognises the contents, else raw.
 */
public final class BlockDevices {

    private static volatile BlockDevices defaultInstance;

    private final Map<String, BlockDeviceProvider> providers = new LinkedHashMap<>();
    private final List<FormatProvider> formats = new ArrayList<>();

    public BlockDevices(Iterable<BlockDeviceProvider> providers, Iterable<FormatProvider> formats) {
        for (BlockDeviceProvider p : providers) {
            for (String scheme : p.schemes()) {
                this.providers.putIfAbsent(scheme, p);
            }
        }
        formats.forEach(this.formats::add);
    }

    /** Everything on the class path, found with ServiceLoader. */
    public static BlockDevices loadDefault() {
        BlockDevices d = defaultInstance;
        if (d == null) {
            synchronized (BlockDevices.class) {
                d = defaultInstance;
                if (d == null) {
                    ClassLoader cl = BlockDevices.class.getClassLoader();
                    d = new BlockDevices(ServiceLoader.load(BlockDeviceProvider.class, cl),
                            ServiceLoader.load(FormatProvider.class, cl));
                    defaultInstance = d;
                }
            }
        }
        return d;
    }

    public List<String> schemes() {
        return List.copyOf(providers.keySet());
    }

    public List<String> formatNames() {
        List<String> names = new ArrayList<>();
        names.add("raw");
        formats.forEach(f -> names.add(f.name()));
        return names;
    }

    public BlockDeviceProvider provider(DeviceUri uri) throws BlockDeviceException {
        BlockDeviceProvider p = providers.get(uri.scheme());
        if (p == null) {
            throw new BlockDeviceException(BlockError.ENOTSUP, "no storage backend for scheme '" + uri.scheme()
                    + ":' in " + uri + " (known: " + String.join(", ", providers.keySet()) + ")");
        }
        return p;
    }

    public BlockDevice open(String uri) throws IOException {
        return open(DeviceUri.parse(uri), OpenOptions.DEFAULT);
    }

    public BlockDevice open(String uri, OpenOptions options) throws IOException {
        return open(DeviceUri.parse(uri), options);
    }

    /** Opens the transport and the format on top of it. */
    public BlockDevice open(DeviceUri uri, OpenOptions options) throws IOException {
        return openOn(openTransport(uri, options), uri, options);
    }

    /**
     * The format (probed, or named by the options or the URI's {@code format=}) on top of {@code transport},
     * already open for {@code uri}: the image takes the transport over, and closes it if this fails. For a
     * caller that needs the transport itself too, without connecting to the storage twice.
     */
    public BlockDevice openOn(BlockDevice transport, DeviceUri uri, OpenOptions options) throws IOException {
        String formatName = options.format() != null ? options.format() : uri.param("format").orElse(null);
        BlockDevice image;
        try {
            FormatProvider format = chooseFormat(formatName, transport);
            image = format == null ? transport : format.open(transport, uri, options, this);
        } catch (IOException | RuntimeException e) {
            transport.close();
            throw e;
        }
        // Changed-block tracking wraps the image (not the transport): it records virtual blocks.
        return io.tapdisk4j.block.cbt.CbtLogs.track(uri, options, image, this);
    }

    /** Opens only the transport, with no format on top. */
    public BlockDevice openTransport(DeviceUri uri, OpenOptions options) throws IOException {
        return provider(uri).open(uri, options);
    }

    /** Creates storage at {@code uri} holding an empty image of {@code size} virtual bytes. */
    public BlockDevice create(DeviceUri uri, long size, String formatName) throws IOException {
        return create(uri, size, formatName, OpenOptions.DEFAULT);
    }

    /** {@link #create(DeviceUri, long, String)}, the new image opened with {@code options} (direct I/O, say). */
    public BlockDevice create(DeviceUri uri, long size, String formatName, OpenOptions options) throws IOException {
        FormatProvider format = formatNamed(formatName == null ? "raw" : formatName);
        BlockDeviceProvider provider = provider(uri);
        if (format == null) {
            return provider.create(uri, size, options);
        }
        BlockDevice transport = provider.create(uri, 0);
        try {
            format.create(transport, size);
        } finally {
            transport.close();
        }
        return open(uri, options.withFormat(format.name()));
    }

    /** Renames storage through its transport: see {@link BlockDeviceProvider#rename}. */
    public void rename(DeviceUri from, DeviceUri to) throws IOException {
        if (!from.scheme().equals(to.scheme())) {
            throw new BlockDeviceException(BlockError.EINVAL, "cannot rename " + from + " to " + to
                    + ": a rename stays within one storage (scheme)");
        }
        provider(from).rename(from, to);
    }

    public FormatProvider formatNamed(String name) throws BlockDeviceException {
        if (name == null || name.equals("raw")) {
            return null;
        }
        for (FormatProvider f : formats) {
            if (f.name().equalsIgnoreCase(name)) {
                return f;
            }
        }
        throw new BlockDeviceException(BlockError.ENOTSUP, "unknown image format '" + name + "' (known: "
                + String.join(", ", formatNames()) + ")");
    }

    /** The format of the image on {@code transport}, or null for raw. */
    public FormatProvider probe(BlockDevice transport) throws IOException {
        for (FormatProvider f : formats) {
            if (f.probe(transport)) {
                return f;
            }
        }
        return null;
    }

    private FormatProvider chooseFormat(String name, BlockDevice transport) throws IOException {
        return name != null ? formatNamed(name) : probe(transport);
    }
}
