package io.tapdisk4j.ring.backend;

import io.tapdisk4j.ring.blkif.Blkif;
import io.tapdisk4j.ring.blkif.BlkifLayout;
import io.tapdisk4j.ring.blkif.BlkifRequest;

/**
 * The checks Linux blkback applies before it touches a request, on the private copy: segment counts,
 * sector ranges inside a page, the disk's bounds (with u64 overflow), and the device's mode. One call per
 * request, {@link #validate}, after an INDIRECT request's segments were fetched ({@link IndirectSegments}).
 */
final class RequestValidator {

    private final long deviceSize;
    private final boolean readOnly;
    private final int maxIndirectSegments;

    RequestValidator(long deviceSize, boolean readOnly, int maxIndirectSegments) {
        this.deviceSize = deviceSize;
        this.readOnly = readOnly;
        this.maxIndirectSegments = maxIndirectSegments;
    }

    /**
     * Null when {@code r} may go to the device, else the reason for its error response. Operations without
     * a payload or range (an empty FLUSH_DISKCACHE, unknown ones) have nothing to check here.
     */
    String validate(BlkifRequest r) {
        return switch (r.operation) {
            case Blkif.OP_READ, Blkif.OP_WRITE, Blkif.OP_WRITE_BARRIER -> {
                String bad = direct(r);
                yield bad != null ? bad : segments(r, r.nrSegments);
            }
            // An empty flush changes nothing (also fine on a read-only device); one with data is a write.
            case Blkif.OP_FLUSH_DISKCACHE -> {
                if (r.nrSegments == 0) {
                    yield null;
                }
                String bad = direct(r);
                yield bad != null ? bad : segments(r, r.nrSegments);
            }
            case Blkif.OP_INDIRECT -> {
                String bad = indirect(r);
                yield bad != null ? bad : segments(r, r.nrSegments);
            }
            case Blkif.OP_DISCARD -> discard(r);
            default -> null;
        };
    }

    /** Direct READ/WRITE/WRITE_BARRIER/FLUSH_DISKCACHE header: segment count and mode. */
    private String direct(BlkifRequest r) {
        int n = r.nrSegments;
        if (n > BlkifLayout.MAX_SEGMENTS_PER_REQUEST) {
            return "nr_segments " + n + " > " + BlkifLayout.MAX_SEGMENTS_PER_REQUEST;
        }
        if (n == 0 && (r.operation == Blkif.OP_READ || r.operation == Blkif.OP_WRITE)) {
            return "no segments";
        }
        if (r.operation != Blkif.OP_READ && readOnly) {
            return Blkif.opName(r.operation) + " on a read-only device";
        }
        return null;
    }

    /** INDIRECT header: the operation inside, the count against what was advertised, and mode. */
    private String indirect(BlkifRequest r) {
        if (r.indirectOp != Blkif.OP_READ && r.indirectOp != Blkif.OP_WRITE) {
            return "indirect operation " + Blkif.opName(r.indirectOp) + " not READ or WRITE";
        }
        if (r.nrSegments == 0 || r.nrSegments > maxIndirectSegments) {
            return "indirect nr_segments " + r.nrSegments + " not in 1.." + maxIndirectSegments;
        }
        if (r.indirectOp == Blkif.OP_WRITE && readOnly) {
            return "WRITE on a read-only device";
        }
        return null;
    }

    /** Segment sector ranges and the request's total range against the disk. */
    private String segments(BlkifRequest r, int count) {
        long bytes = 0;
        for (int i = 0; i < count; i++) {
            int first = r.firstSect(i);
            int last = r.lastSect(i);
            if (last >= BlkifLayout.SECTORS_PER_PAGE || first > last) {
                return "segment " + i + " sectors " + first + ".." + last + " outside a page";
            }
            bytes += (long) (last - first + 1) * BlkifLayout.SECTOR_SIZE;
        }
        return range(r.sectorNumber, bytes);
    }

    private String discard(BlkifRequest r) {
        if (readOnly) {
            return "DISCARD on a read-only device";
        }
        if (r.nrSectors < 0 || r.nrSectors > (Long.MAX_VALUE >> 9)) {
            return "discard of " + Long.toUnsignedString(r.nrSectors) + " sectors";
        }
        return range(r.sectorNumber, r.nrSectors << 9);
    }

    private String range(long sector, long bytes) {
        if (sector < 0 || sector > (Long.MAX_VALUE >> 9)) {
            return "sector " + Long.toUnsignedString(sector) + " beyond any disk";
        }
        long offset = sector << 9;
        if (offset + bytes < 0 || offset + bytes > deviceSize) {
            return "sectors " + sector + "+" + (bytes >> 9) + " beyond the disk (" + (deviceSize >> 9) + " sectors)";
        }
        return null;
    }
}
