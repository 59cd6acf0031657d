package io.tapdisk4j.block;

import java.io.IOException;

/**
 * An image format layered over a transport device (VHD), found with {@link java.util.ServiceLoader}.
 * {@link BlockDevices} probes every format on open unless the options name one.
 */
public interface FormatProvider {

    /** "vhd", for example. */
    String name();

    /** True when {@code transport} holds an image of this format. Reads a few sectors at most. */
    boolean probe(BlockDevice transport) throws IOException;

    /**
     * Opens the image held by {@code transport}; takes over {@code transport} (closing the result closes it).
     * {@code uri} names the transport, for resolving relative parent locators through {@code devices}.
     */
    BlockDevice open(BlockDevice transport, DeviceUri uri, OpenOptions options, BlockDevices devices)
            throws IOException;

    /** Writes a new, empty image of {@code virtualSize} bytes onto {@code transport}. */
    void create(BlockDevice transport, long virtualSize) throws IOException;
}
