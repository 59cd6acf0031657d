package io.tapdisk4j.image;

import io.tapdisk4j.block.BlockDeviceException;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * When an image's metadata goes out: new allocations are visible in memory at once, and their metadata
 * (crash-ordered by the format, see {@link MetadataBarrier}) reaches the file on flush, on a FUA write, on
 * close, or in the background once {@code threshold} units were allocated since the last write-back.
 */
public abstract class MetadataWriteBack {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(MetadataWriteBack.class);

    private final ImageFile image;
    private final AtomicInteger unsynced = new AtomicInteger();
    private final int threshold;

    protected MetadataWriteBack(ImageFile image, int threshold) {
        this.image = image;
        this.threshold = threshold;
    }

    /** A unit (block, cluster) was published in memory. */
    public final void allocated() {
        unsynced.incrementAndGet();
    }

    /** Writes every dirty piece of metadata behind flushes of what it describes. */
    public abstract void writeBack() throws BlockDeviceException;

    /** Write-back, then a flush: every completed write is durable and described. */
    public void flush() throws BlockDeviceException {
        writeBack();
        Io.join(image.transport.flush());
    }

    /** Called by {@link #writeBack} as it takes the dirty state: the count starts again. */
    protected final void taken() {
        unsynced.set(0);
    }

    /**
     * After a completed write: a FUA write flushes; otherwise a write-back starts in the background once the
     * threshold is reached (a failure leaves the metadata dirty for the next flush, which reports it).
     */
    public final void afterWrite(boolean fua) throws BlockDeviceException {
        if (fua) {
            flush();
        } else if (unsynced.get() >= threshold) {
            unsynced.set(0);
            Io.async(image.describe(), () -> {
                writeBack();
                return null;
            }).exceptionally(t -> {
                LOG.warn("{}: metadata write-back: {}", image.describe(), t.getMessage());
                return null;
            });
        }
    }
}
