package io.tapdisk4j.image;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.DeviceUri;

import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * What every open image file has, whatever its format: the transport it lives on, the backing image below,
 * and the structure lock. Formats add their metadata (a VHD's footer and BAT, a qcow2 header).
 */
public abstract class ImageFile {

    public final BlockDevice transport;
    public final DeviceUri uri;
    public final boolean readOnly;
    public final BackingLayer below;
    /** Requests hold it shared; resize (and whatever moves metadata) holds it exclusively. */
    public final ReentrantReadWriteLock structureLock = new ReentrantReadWriteLock();

    protected ImageFile(BlockDevice transport, DeviceUri uri, boolean readOnly, BackingLayer below) {
        this.transport = transport;
        this.uri = uri;
        this.readOnly = readOnly;
        this.below = below;
    }

    /** The virtual disk's size. */
    public abstract long size();

    /** The format and transport, for logs and errors ({@code qcow2:file:///...}). */
    public abstract String describe();
}
