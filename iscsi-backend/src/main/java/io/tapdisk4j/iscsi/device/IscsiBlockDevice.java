package io.tapdisk4j.iscsi.device;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.Requests;
import io.tapdisk4j.block.WriterLocks;
import io.tapdisk4j.block.Writes;
import io.tapdisk4j.iscsi.scsi.Cdb;
import io.tapdisk4j.iscsi.scsi.InquiryData;
import io.tapdisk4j.iscsi.scsi.LbaStatus;
import io.tapdisk4j.iscsi.scsi.ReadCapacity;
import io.tapdisk4j.iscsi.scsi.VpdPages;
import io.tapdisk4j.iscsi.session.IscsiSession;
import io.tapdisk4j.iscsi.session.ScsiCommand;
import io.tapdisk4j.iscsi.session.ScsiCommandException;
import io.tapdisk4j.iscsi.session.ScsiResult;
import io.tapdisk4j.iscsi.session.SessionConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * A LUN as a {@link BlockDevice}. What the unit can do is read from it at open: READ CAPACITY(16)
 * (READ CAPACITY(10) and READ/WRITE(10) for units without the 16-byte commands), the supported VPD pages,
 * Block Limits (0xB0: largest transfer, UNMAP and WRITE SAME limits) and Logical Block Provisioning
 * (0xB2: UNMAP, WRITE SAME with UNMAP, unmapped blocks reading as zero); the allocation map comes from
 * GET LBA STATUS when READ CAPACITY(16) reports a thin-provisioned unit (LBPME). Requests larger than the
 * unit's transfer limit become several commands; I/O must be aligned to the logical block size.
 */
public final class IscsiBlockDevice implements BlockDevice {

    private static final Logger LOG = LoggerFactory.getLogger(IscsiBlockDevice.class);
    /** Upper bound for one READ/WRITE command when the unit reports no limit. */
    static final int DEFAULT_MAX_TRANSFER = 8 << 20;
    /** Descriptors asked for per GET LBA STATUS: a few KiB of answer, and a prefix of the range is enough. */
    static final int LBA_STATUS_DESCRIPTORS = 256;

    private final IscsiSession session;
    /** The LUN's persistent reservation while open for writing. */
    private volatile LunWriterLock writerLock;
    private final IscsiUrl url;
    private final int lun;
    private final boolean readOnly;
    private final long blocks;
    private final int blockSize;
    private final int physicalBlockSize;
    private final boolean sixteen;
    private final int maxTransferBytes;
    private final VpdPages.BlockLimits limits;
    private final VpdPages.Provisioning provisioning;
    private final InquiryData inquiry;
    private final String serial;
    /** Unmapped blocks read as zeroes (LBPRZ in READ CAPACITY(16) or VPD page 0xB2). */
    private final boolean unmappedReadZero;
    /** LBPME: the unit is thin provisioned and answers GET LBA STATUS; cleared if it refuses the command. */
    private volatile boolean lbaStatus;

    private IscsiBlockDevice(IscsiSession session, IscsiUrl url, boolean readOnly, ReadCapacity capacity, boolean sixteen,
                             VpdPages.BlockLimits limits, VpdPages.Provisioning provisioning, InquiryData inquiry,
                             String serial) {
        this.session = session;
        this.url = url;
        this.lun = url.lun();
        this.readOnly = readOnly;
        this.blocks = capacity.blocks();
        this.blockSize = capacity.blockLength();
        this.physicalBlockSize = blockSize << Math.min(capacity.physicalExponent(), 8);
        this.sixteen = sixteen;
        this.limits = limits;
        this.provisioning = provisioning;
        this.inquiry = inquiry;
        this.serial = serial;
        this.unmappedReadZero = capacity.lbprz() || provisioning.readsZeroes();
        this.lbaStatus = sixteen && capacity.lbpme();
        long max = limits.maxTransferLength() > 0 ? limits.maxTransferLength() * blockSize : DEFAULT_MAX_TRANSFER;
        long cap = sixteen ? DEFAULT_MAX_TRANSFER : Math.min(DEFAULT_MAX_TRANSFER, 0xffffL * blockSize);
        this.maxTransferBytes = (int) Math.max(blockSize, Math.min(max, cap) / blockSize * blockSize);
    }

    /** Logs in and probes the LUN; fails with a clear message when it is not a disk or cannot be reached. */
    public static IscsiBlockDevice open(IscsiUrl url, SessionConfig config, boolean readOnly) throws IOException {
        if (!url.namesLun()) {
            throw new BlockDeviceException(BlockError.EINVAL, "iSCSI URL names no LUN: " + url.display()
                    + " (iscsi://host[:port]/target-iqn/lun)");
        }
        IscsiSession session = await(IscsiSession.open(config), url, "login");
        try {
            int lun = url.lun();
            release(await(session.execute(ScsiCommand.noData(lun, Cdb.testUnitReady())), url, "TEST UNIT READY"));
            InquiryData inquiry = parse(session, lun, Cdb.inquiry(96), 96, InquiryData::parse, url);
            if (!inquiry.directAccessBlockDevice()) {
                throw new BlockDeviceException(BlockError.EINVAL, url.display() + " is not a disk (" + inquiry + ")");
            }
            ReadCapacity capacity;
            boolean sixteen = true;
            try {
                capacity = parse(session, lun, Cdb.readCapacity16(32), 32, ReadCapacity::parse16, url);
            } catch (ScsiCommandException e) {
                LOG.debug("{}: no READ CAPACITY(16) ({}), using the 10-byte commands", url.display(), e.getMessage());
                sixteen = false;
                capacity = parse(session, lun, Cdb.readCapacity10(), 8, ReadCapacity::parse10, url);
            }
            List<Integer> pages = List.of();
            try {
                pages = parse(session, lun, Cdb.vpd(VpdPages.SUPPORTED_PAGES, 255), 255, VpdPages::supportedPages, url);
            } catch (ScsiCommandException e) {
                LOG.debug("{}: no VPD pages: {}", url.display(), e.getMessage());
            }
            VpdPages.BlockLimits limits = pages.contains(VpdPages.BLOCK_LIMITS)
                    ? parse(session, lun, Cdb.vpd(VpdPages.BLOCK_LIMITS, 64), 64, VpdPages::blockLimits, url)
                    : VpdPages.BlockLimits.NONE;
            VpdPages.Provisioning provisioning = pages.contains(VpdPages.LOGICAL_BLOCK_PROVISIONING)
                    ? parse(session, lun, Cdb.vpd(VpdPages.LOGICAL_BLOCK_PROVISIONING, 64), 64, VpdPages::provisioning, url)
                    : VpdPages.Provisioning.NONE;
            String serial = pages.contains(VpdPages.UNIT_SERIAL_NUMBER)
                    ? parse(session, lun, Cdb.vpd(VpdPages.UNIT_SERIAL_NUMBER, 255), 255, VpdPages::serialNumber, url)
                    : "";
            IscsiBlockDevice d = new IscsiBlockDevice(session, url, readOnly, capacity, sixteen, limits, provisioning,
                    inquiry, serial);
            if (!readOnly) {
                d.writerLock = LunWriterLock.acquire(session, lun, url, WriterLocks.breakStale());
            }
            LOG.info("{}: {} blocks of {} bytes, {} (serial {}), max transfer {} bytes, unmap {}, write-same-unmap {}, "
                    + "thin provisioned (LBPME) {}", url.display(), capacity.blocks(), capacity.blockLength(), inquiry,
                    serial, d.maxTransferBytes, provisioning.unmap(), provisioning.writeSame16Unmap(), d.lbaStatus);
            return d;
        } catch (IOException | RuntimeException e) {
            session.close();
            throw e;
        }
    }

    private static <T> T parse(IscsiSession session, int lun, byte[] cdb, int length, Function<ByteBuf, T> parser,
                               IscsiUrl url) throws IOException {
        ScsiResult r = await(session.execute(ScsiCommand.read(lun, cdb, length)), url, Cdb.name(cdb[0] & 0xff));
        try {
            return parser.apply(r.data());
        } catch (IllegalArgumentException e) {
            throw new BlockDeviceException(BlockError.EIO, url.display() + ": " + Cdb.name(cdb[0] & 0xff)
                    + " returned unusable data: " + e.getMessage());
        } finally {
            r.data().release();
        }
    }

    private static void release(ScsiResult r) {
        r.data().release();
    }

    static <T> T await(CompletableFuture<T> f, IscsiUrl url, String what) throws IOException {
        try {
            return f.get(5, TimeUnit.MINUTES);
        } catch (ExecutionException e) {
            Throwable c = BlockDeviceException.unwrap(e);
            if (c instanceof BlockDeviceException b) {
                throw b;
            }
            throw new BlockDeviceException(c instanceof io.tapdisk4j.iscsi.text.LoginException le
                    && le.authenticationFailure() ? BlockError.EACCES : BlockError.EIO,
                    url.display() + ": " + what + " failed: " + c.getMessage(), c);
        } catch (TimeoutException e) {
            throw new BlockDeviceException(BlockError.ETIMEDOUT, url.display() + ": " + what + " timed out", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockDeviceException(BlockError.EIO, url.display() + ": interrupted during " + what, e);
        }
    }

    public IscsiSession session() {
        return session;
    }

    /** The reservation key this device holds the LUN under; 0 when it holds none (read-only, or not supported). */
    public long writerLockKey() {
        LunWriterLock lock = writerLock;
        return lock == null ? 0 : lock.key();
    }

    public VpdPages.BlockLimits blockLimits() {
        return limits;
    }

    public VpdPages.Provisioning provisioning() {
        return provisioning;
    }

    public int maxTransferBytes() {
        return maxTransferBytes;
    }

    public InquiryData inquiry() {
        return inquiry;
    }

    public String serialNumber() {
        return serial;
    }

    @Override
    public long size() {
        return blocks * blockSize;
    }

    @Override
    public int logicalBlockSize() {
        return blockSize;
    }

    @Override
    public int physicalBlockSize() {
        return Math.max(physicalBlockSize, blockSize);
    }

    private boolean canDiscard() {
        return provisioning.unmap() || provisioning.writeSame16Unmap();
    }

    @Override
    public Set<Capability> capabilities() {
        EnumSet<Capability> c = EnumSet.of(Capability.FLUSH, Capability.FUA, Capability.WRITE_ZEROES,
                Capability.MULTI_HANDLE_CONSISTENT);
        if (canDiscard()) {
            c.add(Capability.DISCARD);
            if (provisioning.readsZeroes()) {
                c.add(Capability.DISCARD_ZEROES);
            }
        }
        if (readOnly) {
            c.add(Capability.READ_ONLY);
        }
        return c;
    }

    private BlockDeviceException check(long offset, long length) {
        BlockDeviceException bad = Requests.checkRange(offset, length, size());
        if (bad != null) {
            return bad;
        }
        if (offset % blockSize != 0 || length % blockSize != 0) {
            return new BlockDeviceException(BlockError.EINVAL, describe() + ": " + offset + "+" + length
                    + " is not aligned to the " + blockSize + "-byte logical block");
        }
        return null;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        BlockDeviceException bad = check(offset, length);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        if (length == 0) {
            return CompletableFuture.completedFuture(Buffers.direct(0));
        }
        return Requests.readInChunks(offset, length, maxTransferBytes, this::readChunk);
    }

    private CompletableFuture<ByteBuf> readChunk(long offset, int length) {
        long lba = offset / blockSize;
        int count = length / blockSize;
        byte[] cdb = sixteen ? Cdb.read16(lba, count, false) : Cdb.read10(lba, count, false);
        return session.execute(ScsiCommand.read(lun, cdb, length)).thenApply(r -> {
            if (r.data().readableBytes() != length) {
                int got = r.data().readableBytes();
                r.data().release();
                throw new java.util.concurrent.CompletionException(new BlockDeviceException(BlockError.EIO,
                        describe() + ": short read at " + offset + ": " + got + " of " + length + " bytes"));
            }
            return r.data();
        });
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        int length = data.readableBytes();
        BlockDeviceException bad = readOnly ? new BlockDeviceException(BlockError.EROFS, describe() + " is read-only")
                : check(offset, length);
        if (bad != null) {
            data.release();
            return CompletableFuture.failedFuture(bad);
        }
        return Writes.inChunks(offset, data, fua, maxTransferBytes, this::writeChunk);
    }

    private CompletableFuture<Void> writeChunk(long offset, ByteBuf data, boolean fua) {
        long lba = offset / blockSize;
        int count = data.readableBytes() / blockSize;
        byte[] cdb = sixteen ? Cdb.write16(lba, count, fua) : Cdb.write10(lba, count, fua);
        return change(cdb, data);
    }

    /**
     * Runs a command that changes the LUN ({@code data} taken over, or null). Holding the writer lock, a RESERVATION
     * CONFLICT takes the reservation again ({@link LunWriterLock#regain}: a reconnect can cost it) and runs the
     * command once more, from a reference to the data kept for that.
     */
    private CompletableFuture<Void> change(byte[] cdb, ByteBuf data) {
        LunWriterLock lock = writerLock;
        if (lock == null) {
            return session.execute(command(cdb, data)).thenAccept(IscsiBlockDevice::release);
        }
        return change(lock, cdb, data, REGAIN_TRIES);
    }

    /** Connections cut again and again can cost the reservation again before a retry: a few tries, not one. */
    private static final int REGAIN_TRIES = 5;

    private CompletableFuture<Void> change(LunWriterLock lock, byte[] cdb, ByteBuf data, int tries) {
        if (data != null) {
            data.retain();
        }
        return session.execute(command(cdb, data)).handle((r, e) -> {
            if (e == null || tries == 0 || !LunWriterLock.conflict(e)) {
                if (data != null) {
                    data.release();
                }
                if (e != null) {
                    return CompletableFuture.<Void>failedFuture(BlockDeviceException.unwrap(e));
                }
                release(r);
                return CompletableFuture.<Void>completedFuture(null);
            }
            return lock.regain().whenComplete((v, failed) -> {
                if (failed != null && data != null) {
                    data.release();
                }
            }).thenCompose(v -> change(lock, cdb, data, tries - 1));
        }).thenCompose(f -> f);
    }

    private ScsiCommand command(byte[] cdb, ByteBuf data) {
        return data == null ? ScsiCommand.noData(lun, cdb) : ScsiCommand.write(lun, cdb, data);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return change(sixteen ? Cdb.synchronizeCache16() : Cdb.synchronizeCache10(), null);
    }

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        if (secure) {
            return Requests.failed(BlockError.ENOTSUP, describe() + ": secure discard is not supported over iSCSI");
        }
        if (!canDiscard()) {
            return Requests.failed(BlockError.ENOTSUP, describe()
                    + ": the LUN supports neither UNMAP nor WRITE SAME with UNMAP (VPD page 0xB2)");
        }
        BlockDeviceException bad = readOnly ? new BlockDeviceException(BlockError.EROFS, describe() + " is read-only")
                : Requests.checkRange(offset, length, size());
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        // Discard is advisory: only whole blocks inside the range are unmapped.
        long first = (offset + blockSize - 1) / blockSize;
        long end = (offset + length) / blockSize;
        if (end <= first) {
            return CompletableFuture.completedFuture(null);
        }
        long maxBlocks = provisioning.unmap()
                ? (limits.maxUnmapLbaCount() > 0 ? Math.min(limits.maxUnmapLbaCount(), 0xffffffffL) : 1L << 22)
                : writeSameMaxBlocks();
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        for (long lba = first; lba < end; lba += maxBlocks) {
            int count = (int) Math.min(maxBlocks, end - lba);
            if (provisioning.unmap()) {
                ByteBuf params = Cdb.unmapParameters(Buffers.allocator(), lba, count);
                parts.add(change(Cdb.unmap(1), params));
            } else {
                parts.add(writeSame(lba, count, true));
            }
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
    }

    private long writeSameMaxBlocks() {
        long max = limits.maxWriteSameLength() > 0 ? limits.maxWriteSameLength() : (32L << 20) / blockSize;
        return Math.min(max, 0xffffffffL);
    }

    private CompletableFuture<Void> writeSame(long lba, int count, boolean unmap) {
        return change(Cdb.writeSame16(lba, count, unmap), Buffers.zeroes(blockSize));
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        BlockDeviceException bad = readOnly ? new BlockDeviceException(BlockError.EROFS, describe() + " is read-only")
                : check(offset, length);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        boolean unmap = mayUnmap && provisioning.writeSame16Unmap() && provisioning.readsZeroes();
        long maxBlocks = writeSameMaxBlocks();
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        long end = (offset + length) / blockSize;
        for (long lba = offset / blockSize; lba < end; lba += maxBlocks) {
            int count = (int) Math.min(maxBlocks, end - lba);
            long at = lba * blockSize;
            parts.add(writeSame(lba, count, unmap).exceptionallyCompose(err -> {
                // Units without WRITE SAME get ordinary writes of zeroes.
                if (BlockDeviceException.errorOf(err) != BlockError.ENOTSUP) {
                    return CompletableFuture.failedFuture(BlockDeviceException.unwrap(err));
                }
                return writeZeroBuffers(at, (long) count * blockSize);
            }));
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
    }

    private CompletableFuture<Void> writeZeroBuffers(long offset, long length) {
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        for (long done = 0; done < length; done += maxTransferBytes) {
            int n = (int) Math.min(maxTransferBytes, length - done);
            parts.add(writeChunk(offset + done, Buffers.zeroes(n), false));
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
    }

    /** True when {@link #allocation} asks the unit (GET LBA STATUS) rather than reporting everything as data. */
    public boolean reportsAllocation() {
        return lbaStatus;
    }

    /**
     * GET LBA STATUS when the unit is thin provisioned (LBPME): mapped blocks are data, deallocated ones
     * holes, anchored ones not holes (their storage is reserved); both read as zeroes when LBPRZ says
     * so. Otherwise, or once the unit refuses the command, the whole range is data.
     */
    @Override
    public CompletableFuture<List<Extent>> allocation(long offset, long length) {
        BlockDeviceException bad = Requests.checkRange(offset, length, size());
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        if (length == 0) {
            return Requests.failed(BlockError.EINVAL, "empty allocation query");
        }
        if (!lbaStatus) {
            return CompletableFuture.completedFuture(List.of(Extent.data(offset, length)));
        }
        long lba = offset / blockSize;
        int allocationLength = LbaStatus.allocationLength(LBA_STATUS_DESCRIPTORS);
        return session.execute(ScsiCommand.read(lun, Cdb.getLbaStatus(lba, allocationLength), allocationLength))
                .handle((r, err) -> {
                    if (err != null) {
                        Throwable c = BlockDeviceException.unwrap(err);
                        if (c instanceof ScsiCommandException sce && sce.sense().unsupportedCommand()) {
                            LOG.info("{}: GET LBA STATUS refused ({}); reporting every block as data", describe(),
                                    sce.getMessage());
                            lbaStatus = false;
                            return List.of(Extent.data(offset, length));
                        }
                        throw new java.util.concurrent.CompletionException(c);
                    }
                    try {
                        return extents(LbaStatus.parse(r.data(), lba, blocks), offset, offset + length);
                    } catch (IllegalArgumentException e) {
                        throw new java.util.concurrent.CompletionException(new BlockDeviceException(BlockError.EIO,
                                describe() + ": unusable GET LBA STATUS answer: " + e.getMessage()));
                    } finally {
                        r.data().release();
                    }
                });
    }

    /** Descriptors as byte extents, cut to {@code [from, to)}. */
    private List<Extent> extents(List<LbaStatus.Descriptor> descriptors, long from, long to) {
        List<Extent> out = new ArrayList<>();
        for (LbaStatus.Descriptor d : descriptors) {
            long start = Math.max(from, d.lba() * blockSize);
            long end = Math.min(to, d.end() * blockSize);
            if (end <= start) {
                continue;
            }
            out.add(switch (d.status()) {
                case LbaStatus.MAPPED -> Extent.data(start, end - start);
                case LbaStatus.DEALLOCATED -> new Extent(start, end - start, true, unmappedReadZero);
                case LbaStatus.ANCHORED -> new Extent(start, end - start, false, unmappedReadZero);
                default -> Extent.data(start, end - start); // reserved values: nothing is promised
            });
            if (end == to) {
                break;
            }
        }
        return out;
    }

    @Override
    public void close() {
        LunWriterLock lock = writerLock;
        writerLock = null;
        if (lock != null) {
            lock.release();
        }
        session.close();
    }

    @Override
    public String describe() {
        return url.display();
    }
}
