package io.tapdisk4j.ring.xenbus;

import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.ring.backend.BackendListener;
import io.tapdisk4j.ring.backend.BlkifBackend;
import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.hv.Hypervisor;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Function;

/**
 * How {@link Tapback} serves devices.
 *
 * @param hypervisor          grant and event-channel operations (sim or xen)
 * @param devices             opens each device's {@code params} URI
 * @param dataPath            the data path for every device (a frontend must agree to persistent grants)
 * @param allowUnsafe         consent to {@link DataPath#UNSAFE_MAP}
 * @param maxIndirectSegments advertised as {@code feature-max-indirect-segments}
 * @param closeTimeout        how long a disconnect waits for requests in flight before failing them
 * @param listeners           a shutdown listener per device (asked once per connection)
 */
public record TapbackOptions(Hypervisor hypervisor, BlockDevices devices, DataPath dataPath, boolean allowUnsafe,
                             int maxIndirectSegments, Duration closeTimeout,
                             Function<VbdId, BackendListener> listeners) {

    public TapbackOptions {
        Objects.requireNonNull(hypervisor, "hypervisor");
        devices = devices == null ? BlockDevices.loadDefault() : devices;
        dataPath = dataPath == null ? DataPath.COPY : dataPath;
        closeTimeout = closeTimeout == null ? Duration.ofSeconds(5) : closeTimeout;
        listeners = listeners == null ? id -> BackendListener.NONE : listeners;
        if (dataPath == DataPath.UNSAFE_MAP && !allowUnsafe) {
            throw new IllegalArgumentException("the unsafe-map data path needs the explicit allowUnsafe flag");
        }
    }

    public static TapbackOptions defaults(Hypervisor hypervisor) {
        return new TapbackOptions(hypervisor, null, DataPath.COPY, false, BlkifBackend.DEFAULT_MAX_INDIRECT_SEGMENTS,
                null, null);
    }

    public TapbackOptions withDataPath(DataPath p) {
        return new TapbackOptions(hypervisor, devices, p, allowUnsafe, maxIndirectSegments, closeTimeout, listeners);
    }

    public TapbackOptions withAllowUnsafe(boolean a) {
        return new TapbackOptions(hypervisor, devices, dataPath, a, maxIndirectSegments, closeTimeout, listeners);
    }

    public TapbackOptions withCloseTimeout(Duration d) {
        return new TapbackOptions(hypervisor, devices, dataPath, allowUnsafe, maxIndirectSegments, d, listeners);
    }

    public TapbackOptions withListeners(Function<VbdId, BackendListener> l) {
        return new TapbackOptions(hypervisor, devices, dataPath, allowUnsafe, maxIndirectSegments, closeTimeout, l);
    }
}
