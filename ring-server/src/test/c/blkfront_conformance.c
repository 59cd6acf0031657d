/*
 * A blkif frontend written against Xen's own xen/io/ring.h and xen/io/blkif.h macros, acting as guest
 * DOMID through the simulated hypervisor contract (../shared/sim-xen-abi.md): guest memory and grant
 * table are files in DIR/dom<D>/, the event channel is a Unix socket the guest listens on.
 *
 * Built twice: as is for the x86_64 ABI (Xen's blkif_request), and with -DABI_X86_32 for the x86_32 ABI
 * (the packed blkif_x86_32_* structs of blkif_x86_32.h, laid out as a 32-bit guest lays them out), so
 * one program checks both of the backend's codecs.
 *
 * Usage: blkfront_conformance DIR DOMID DEVICE_SECTORS RING_PAGE_ORDER hook|xenstore:DEVID
 *
 * hook: prints "frontend ring-refs=R0[,R1...] event-channel=P protocol=ABI ring-size=N", accepts the
 * backend's event-channel connection, waits for a line "go" on stdin (the test attached the device).
 * xenstore:DEVID: connects to DIR/xenstored.sock with libxenstore (XENSTORED_PATH) and does blkfront's
 * xenbus handshake for device DEVID: waits for the backend in InitWait, checks max-ring-page-order,
 * publishes ring-ref(s), event-channel and protocol, moves to Initialised, waits for Connected, checks
 * sectors/sector-size, moves to Connected; after the cases it closes (5) and waits for the backend's
 * Closed (6). Backend keys are printed as "backend <key>=<value>". With QUEUES=2 in the environment it
 * negotiates two queues as Linux blkfront does (multi-queue-num-queues, ring-page-order at the top,
 * queue-<i>/ring-ref* and queue-<i>/event-channel), runs the cases on queue 0 and a write/read on queue 1.
 * With OVERRUN=1 it instead does one write/read, then publishes req_prod more than a ring ahead and expects
 * the backend to shut the device down as Linux blkback does (an error node, then Closing).
 * With RECONNECT=1, after closing it returns to Initialising, connects again with fresh rings, reads
 * back data written before, and closes again.
 * Then it runs every case and prints "ok <case>" or "fail <case>: <why>" per case and
 * "summary <ok> <failed>" at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ring.h (interface version < 0x00030208) expects the includer's barriers. */
#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#include <xen/grant_table.h>
#include <xen/io/ring.h>
#include <xen/io/blkif.h>
#include <xen/io/xenbus.h>
#include <xenstore.h>

#ifdef ABI_X86_32
#include "blkif_x86_32.h"
typedef struct blkif_x86_32_request req_t;
typedef struct blkif_x86_32_response rsp_t;
typedef blkif_x86_32_sring_t sring_t;
typedef blkif_x86_32_front_ring_t front_ring_t;
#define RW(r) ((r)->u.rw)
#define IND(r) ((r)->u.indirect)
#define DISC(r) ((r)->u.discard)
#define PROTOCOL "x86_32-abi"
#else
typedef blkif_request_t req_t;
typedef blkif_response_t rsp_t;
typedef blkif_sring_t sring_t;
typedef blkif_front_ring_t front_ring_t;
#define RW(r) (*(r))
#define IND(r) (*(blkif_request_indirect_t *) (r))
#define DISC(r) (*(blkif_request_discard_t *) (r))
#define PROTOCOL "x86_64-abi"
#endif

#define PAGE 4096
#define NR_FRAMES 304
#define NR_GREFS 1024
#define RING_FRAME 272                /* up to 16 ring pages per queue: frames 272..287, 288..303 */
#define MAX_QUEUES 2
#define RING_FRAME_Q(q) (RING_FRAME + 16 * (q))
#define MAX_ORDER 4
#define FIRST_REF 8                   /* Linux guests never hand out refs 0..7 */
#define REF(frame) (FIRST_REF + (frame))
#define RO_REF 1000                   /* frame 5, read-only */
#define REVOKED_REF 1001              /* frame 6, flags 0 */
#define OTHER_DOMAIN_REF 1002         /* frame 7, granted to domain 7, not to dom0 */
#define BAD_FRAME_REF 1003            /* frame beyond guest memory */
#define BEYOND_TABLE_REF 5000         /* beyond the grant table */
#define FULL_RING_SECTOR 1024         /* full_ring writes one sector per entry from here */
#define EVTCHN_PORT 5
#define TIMEOUT_MS 10000
#define FILL 0xEE

static uint8_t *mem;
static grant_entry_v1_t *gnttab;
static front_ring_t fronts[MAX_QUEUES];
static int evtchns[MAX_QUEUES] = {-1, -1};
static int queue;                      /* the queue the cases below drive */
static int nr_queues = 1;
/* Every case drives "the" ring and its event channel: those of the current queue. */
#define front (fronts[queue])
#define evtchn (evtchns[queue])
static uint64_t dev_sectors;
static int max_indirect = -1;
static int persistent;                 /* PERSISTENT=1: the backend uses persistent grants */          /* feature-max-indirect-segments (xenstore, or MAX_INDIRECT in hook mode) */
static int n_ok, n_fail;

/* ---- reporting ---------------------------------------------------------------------------------- */

static void ok(const char *name)
{
    printf("ok %s\n", name);
    fflush(stdout);
    n_ok++;
}

static void failf(const char *name, const char *fmt, ...)
{
    va_list ap;
    printf("fail %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    n_fail++;
}

static void die(const char *what)
{
    printf("fatal %s: %s\n", what, strerror(errno));
    fflush(stdout);
    exit(2);
}

/* ---- guest memory and grants -------------------------------------------------------------------- */

static uint8_t *frame(int f) { return mem + (size_t) f * PAGE; }

/* The byte at disk offset off for data written with seed s; XenConformanceTest computes the same. */
static uint8_t pattern(uint64_t off, int s)
{
    return (uint8_t) (off ^ (off >> 8) ^ (off >> 16) ^ (uint64_t) (s * 37));
}

/* Fills sectors [first, last] of frame f with the pattern for disk sector disk_sector onwards. */
static void fill(int f, int first, int last, uint64_t disk_sector, int seed)
{
    for (int s = first; s <= last; s++)
        for (int i = 0; i < 512; i++)
            frame(f)[s * 512 + i] = pattern((disk_sector + (uint64_t) (s - first)) * 512 + (uint64_t) i, seed);
}

/* Whether sectors [first, last] of frame f hold the pattern from disk_sector on. */
static int holds(int f, int first, int last, uint64_t disk_sector, int seed)
{
    for (int s = first; s <= last; s++)
        for (int i = 0; i < 512; i++)
            if (frame(f)[s * 512 + i] != pattern((disk_sector + (uint64_t) (s - first)) * 512 + (uint64_t) i, seed))
                return 0;
    return 1;
}

static int all(int f, int from, int to, uint8_t v)
{
    for (int i = from; i < to; i++)
        if (frame(f)[i] != v)
            return 0;
    return 1;
}

static void grant(grant_ref_t ref, uint32_t gfn, domid_t to, uint16_t flags)
{
    gnttab[ref].frame = gfn;
    gnttab[ref].domid = to;
    wmb(); /* the contract: flags are written last */
    gnttab[ref].flags = flags;
}

static void *map_file(const char *path, size_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, (off_t) size) < 0)
        die(path);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        die(path);
    close(fd);
    return p;
}

/* ---- event channel ------------------------------------------------------------------------------ */

static void notify_backend(void)
{
    char b = 1;
    if (write(evtchn, &b, 1) != 1)
        die("event channel write");
}

/* Waits for a notification; coalesces whatever bytes are pending. 0 on an event, -1 on timeout or EOF. */
static int await_event(void)
{
    struct pollfd p = {.fd = evtchn, .events = POLLIN};
    int r = poll(&p, 1, TIMEOUT_MS);
    if (r <= 0)
        return -1;
    char buf[64];
    ssize_t n = read(evtchn, buf, sizeof buf);
    return n > 0 ? 0 : -1;
}

/* ---- requests and responses --------------------------------------------------------------------- */

struct seg {
    grant_ref_t gref;
    uint8_t first, last;
};

#define SLOTS 1024 /* more than the largest ring (512 entries) */
static struct {
    uint64_t id;
    uint8_t op;
    int16_t status;
    int outstanding, answered;
} slots[SLOTS];
static uint64_t next_id = 1;
static int protocol_errors;

/* op: what the response must carry; for INDIRECT that is the indirect_op, as Linux blkfront checks. */
static uint64_t new_id(uint8_t op)
{
    uint64_t id = next_id++;
    int i = (int) (id % SLOTS);
    slots[i].id = id;
    slots[i].op = op;
    slots[i].outstanding = 1;
    slots[i].answered = 0;
    return id;
}

/* Consumes every published response: each must answer an outstanding id, once, with its operation. */
static void consume_responses(void)
{
    int more;
    do {
        RING_IDX rp = front.sring->rsp_prod;
        rmb(); /* see the responses the backend wrote before it published rsp_prod */
        for (RING_IDX i = front.rsp_cons; i != rp; i++) {
            rsp_t *rsp = RING_GET_RESPONSE(&front, i);
            int s = (int) (rsp->id % SLOTS);
            if (!slots[s].outstanding || slots[s].id != rsp->id) {
                printf("protocol response for unknown or answered id %llu\n", (unsigned long long) rsp->id);
                protocol_errors++;
                continue;
            }
            if (rsp->operation != slots[s].op) {
                printf("protocol response id %llu has operation %u, expected %u\n",
                       (unsigned long long) rsp->id, rsp->operation, slots[s].op);
                protocol_errors++;
            }
            slots[s].status = rsp->status;
            slots[s].outstanding = 0;
            slots[s].answered = 1;
        }
        front.rsp_cons = rp;
        RING_FINAL_CHECK_FOR_RESPONSES(&front, more);
    } while (more);
}

/* Waits until request id is answered; returns its status, or 99 on timeout. */
static int wait_for(uint64_t id)
{
    int s = (int) (id % SLOTS);
    for (;;) {
        consume_responses();
        if (slots[s].answered && slots[s].id == id)
            return slots[s].status;
        if (await_event() < 0) {
            consume_responses();
            if (slots[s].answered && slots[s].id == id)
                return slots[s].status;
            return 99;
        }
    }
}

static void push(void)
{
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&front, notify);
    if (notify)
        notify_backend();
}

/* Queues a read/write-style request; nr is what goes in nr_segments (may lie: hostile cases). */
static uint64_t queue_rw(uint8_t op, uint64_t sector, const struct seg *segs, int nsegs, uint8_t nr)
{
    if (RING_FULL(&front)) {
        printf("fatal ring full\n");
        exit(2);
    }
    req_t *req = RING_GET_REQUEST(&front, front.req_prod_pvt);
    memset(req, 0, sizeof *req);
    uint64_t id = new_id(op);
    req->operation = op;
    RW(req).nr_segments = nr;
    RW(req).handle = 0;
    RW(req).id = id;
    RW(req).sector_number = sector;
    for (int i = 0; i < nsegs && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
        RW(req).seg[i].gref = segs[i].gref;
        RW(req).seg[i].first_sect = segs[i].first;
        RW(req).seg[i].last_sect = segs[i].last;
    }
    front.req_prod_pvt++;
    return id;
}

static int rw(uint8_t op, uint64_t sector, const struct seg *segs, int nsegs)
{
    uint64_t id = queue_rw(op, sector, segs, nsegs, (uint8_t) nsegs);
    push();
    return wait_for(id);
}

static int rw_nr(uint8_t op, uint64_t sector, const struct seg *segs, int nsegs, uint8_t nr)
{
    uint64_t id = queue_rw(op, sector, segs, nsegs, nr);
    push();
    return wait_for(id);
}

static int indirect(uint8_t indirect_op, uint64_t sector, uint16_t nr_segments, grant_ref_t page_ref)
{
    req_t *req = RING_GET_REQUEST(&front, front.req_prod_pvt);
    memset(req, 0, sizeof *req);
    uint64_t id = new_id(indirect_op);
    req->operation = BLKIF_OP_INDIRECT;
    IND(req).indirect_op = indirect_op;
    IND(req).nr_segments = nr_segments;
    IND(req).id = id;
    IND(req).sector_number = sector;
    IND(req).handle = 0;
    IND(req).indirect_grefs[0] = page_ref;
    front.req_prod_pvt++;
    push();
    return wait_for(id);
}

static int discard(uint64_t sector, uint64_t nr_sectors, uint8_t flag)
{
    req_t *req = RING_GET_REQUEST(&front, front.req_prod_pvt);
    memset(req, 0, sizeof *req);
    uint64_t id = new_id(BLKIF_OP_DISCARD);
    req->operation = BLKIF_OP_DISCARD;
    DISC(req).flag = flag;
    DISC(req).id = id;
    DISC(req).sector_number = sector;
    DISC(req).nr_sectors = nr_sectors;
    front.req_prod_pvt++;
    push();
    return wait_for(id);
}

static const char *status_name(int s)
{
    switch (s) {
    case BLKIF_RSP_OKAY: return "OKAY";
    case BLKIF_RSP_ERROR: return "ERROR";
    case BLKIF_RSP_EOPNOTSUPP: return "EOPNOTSUPP";
    case 99: return "no response (timeout)";
    default: return "unknown status";
    }
}

static int expect(const char *name, int got, int want)
{
    if (got == want)
        return 1;
    failf(name, "status %d (%s), expected %d (%s)", got, status_name(got), want, status_name(want));
    return 0;
}

/* ---- the cases ---------------------------------------------------------------------------------- */

static void write_read_page(void)
{
    const char *n = "write_read_page";
    fill(1, 0, 7, 16, 1);
    memset(frame(2), FILL, PAGE);
    struct seg w = {REF(1), 0, 7}, r = {REF(2), 0, 7};
    if (!expect(n, rw(BLKIF_OP_WRITE, 16, &w, 1), BLKIF_RSP_OKAY) || !expect(n, rw(BLKIF_OP_READ, 16, &r, 1), 0))
        return;
    if (!holds(2, 0, 7, 16, 1))
        return failf(n, "read back differs from what was written");
    ok(n);
}

static void multi_segment(void)
{
    const char *n = "multi_segment_11";
    struct seg w[11], r[11];
    for (int i = 0; i < 11; i++) {
        fill(10 + i, 0, 7, 64 + 8 * (uint64_t) i, 2);
        memset(frame(21 + i), FILL, PAGE);
        w[i] = (struct seg){REF(10 + i), 0, 7};
        r[i] = (struct seg){REF(21 + i), 0, 7};
    }
    if (!expect(n, rw(BLKIF_OP_WRITE, 64, w, 11), 0) || !expect(n, rw(BLKIF_OP_READ, 64, r, 11), 0))
        return;
    for (int i = 0; i < 11; i++)
        if (!holds(21 + i, 0, 7, 64 + 8 * (uint64_t) i, 2))
            return failf(n, "segment %d read back differs", i);
    ok(n);
}

static void sub_page(void)
{
    const char *n = "sub_page_segment";
    memset(frame(32), 0x11, PAGE);
    fill(32, 2, 5, 300, 3);               /* 4 sectors from page offset 1024 */
    memset(frame(33), FILL, PAGE);
    struct seg w = {REF(32), 2, 5}, r = {REF(33), 1, 4};
    if (!expect(n, rw(BLKIF_OP_WRITE, 300, &w, 1), 0) || !expect(n, rw(BLKIF_OP_READ, 300, &r, 1), 0))
        return;
    if (!holds(33, 1, 4, 300, 3))
        return failf(n, "sectors 1..4 of the read page differ");
    if (!all(33, 0, 512, FILL) || !all(33, 5 * 512, PAGE, FILL))
        return failf(n, "the read touched bytes outside first_sect..last_sect");
    ok(n);
}

static void sub_page_multi(void)
{
    const char *n = "sub_page_multi_segment";
    fill(34, 7, 7, 400, 4);
    fill(35, 0, 7, 401, 4);
    fill(36, 0, 0, 409, 4);
    memset(frame(37), FILL, PAGE);
    memset(frame(38), FILL, PAGE);
    struct seg w[3] = {{REF(34), 7, 7}, {REF(35), 0, 7}, {REF(36), 0, 0}};
    struct seg r[2] = {{REF(37), 0, 7}, {REF(38), 3, 4}};
    if (!expect(n, rw(BLKIF_OP_WRITE, 400, w, 3), 0) || !expect(n, rw(BLKIF_OP_READ, 400, r, 2), 0))
        return;
    if (!holds(37, 0, 7, 400, 4) || !holds(38, 3, 4, 408, 4))
        return failf(n, "read back differs");
    if (!all(38, 0, 3 * 512, FILL) || !all(38, 5 * 512, PAGE, FILL))
        return failf(n, "the read touched bytes outside the segments");
    ok(n);
}

static void flush(void)
{
    const char *n = "flush_diskcache";
    if (expect(n, rw(BLKIF_OP_FLUSH_DISKCACHE, 0, NULL, 0), BLKIF_RSP_OKAY))
        ok(n);
}

static void barrier(void)
{
    const char *n = "write_barrier";
    fill(39, 0, 7, 500, 6);
    memset(frame(51), FILL, PAGE);
    struct seg w = {REF(39), 0, 7}, r = {REF(51), 0, 7};
    if (!expect(n, rw(BLKIF_OP_WRITE_BARRIER, 500, &w, 1), 0) || !expect(n, rw(BLKIF_OP_READ, 500, &r, 1), 0))
        return;
    if (!holds(51, 0, 7, 500, 6))
        return failf(n, "read back differs");
    ok(n);
}

/* Builds an indirect page: nseg full-page segments of frames first_frame... */
static void indirect_page(int page_frame, int first_frame, int nseg)
{
    struct blkif_request_segment *segs = (struct blkif_request_segment *) frame(page_frame);
    memset(segs, 0, PAGE);
    for (int i = 0; i < nseg; i++) {
        segs[i].gref = REF(first_frame + i);
        segs[i].first_sect = 0;
        segs[i].last_sect = 7;
    }
}

/* 32 pages (128 KiB) in one INDIRECT write and one INDIRECT read; then one segment above the advertised maximum. */
static void indirect_io(void)
{
    const char *n = "indirect_write_read_32_segments";
    if (max_indirect < 32) {
        failf(n, "the backend advertises only %d indirect segments", max_indirect);
    } else {
        for (int i = 0; i < 32; i++) {
            fill(56 + i, 0, 7, 1664 + 8 * (uint64_t) i, 11);
            memset(frame(88 + i), FILL, PAGE);
        }
        indirect_page(120, 56, 32);
        indirect_page(121, 88, 32);
        if (expect(n, indirect(BLKIF_OP_WRITE, 1664, 32, REF(120)), 0)
                && expect(n, indirect(BLKIF_OP_READ, 1664, 32, REF(121)), 0)) {
            int bad = -1;
            for (int i = 0; i < 32 && bad < 0; i++)
                if (!holds(88 + i, 0, 7, 1664 + 8 * (uint64_t) i, 11))
                    bad = i;
            if (bad >= 0)
                failf(n, "indirect segment %d read back differs", bad);
            else
                ok(n);
        }
    }
    n = "indirect_above_advertised_maximum";
    if (max_indirect < 0 || max_indirect >= 8 * 512) {
        failf(n, "no advertised maximum below %d to exceed (%d)", 8 * 512, max_indirect);
        return;
    }
    /* Enough valid segments on the indirect pages that only the count is wrong. */
    int pages = (max_indirect + 1 + 511) / 512;
    req_t *req = RING_GET_REQUEST(&front, front.req_prod_pvt);
    memset(req, 0, sizeof *req);
    uint64_t id = new_id(BLKIF_OP_READ);
    req->operation = BLKIF_OP_INDIRECT;
    IND(req).indirect_op = BLKIF_OP_READ;
    IND(req).nr_segments = (uint16_t) (max_indirect + 1);
    IND(req).id = id;
    IND(req).sector_number = 0;
    for (int p = 0; p < pages; p++) {
        struct blkif_request_segment *segs = (struct blkif_request_segment *) frame(122 + p);
        for (int i = 0; i < 512; i++)
            segs[i] = (struct blkif_request_segment){.gref = REF(52), .first_sect = 0, .last_sect = 0};
        IND(req).indirect_grefs[p] = REF(122 + p);
    }
    front.req_prod_pvt++;
    push();
    if (expect(n, wait_for(id), BLKIF_RSP_ERROR))
        ok(n);
}

/* The disk is a file that discards by punching holes: XenConformanceTest checks the range reads as zeroes. */
static void discards(void)
{
    const char *n = "discard";
    fill(54, 0, 7, 1600, 10);
    struct seg w = {REF(54), 0, 7};
    if (expect(n, rw(BLKIF_OP_WRITE, 1600, &w, 1), 0) && expect(n, discard(1600, 8, 0), BLKIF_RSP_OKAY))
        ok(n);
    n = "discard_secure_unsupported";
    if (expect(n, discard(1608, 8, BLKIF_DISCARD_SECURE), BLKIF_RSP_EOPNOTSUPP))
        ok(n);
    n = "discard_beyond_device";
    if (expect(n, discard(dev_sectors - 4, 8, 0), BLKIF_RSP_ERROR))
        ok(n);
    n = "discard_nr_sectors_wraps";
    if (expect(n, discard(8, UINT64_MAX - 3, 0), BLKIF_RSP_ERROR))
        ok(n);
}

/* A full ring of one-sector writes pushed at once, answered in any order, each id exactly once. */
static void full_ring(void)
{
    const char *n = "full_ring_in_flight";
    int size = (int) RING_SIZE(&front);   /* at most 512 one-sector writes: source frames 128..191 */
    uint64_t ids[512];
    for (int i = 0; i < size; i++)
        fill(128 + i / 8, i % 8, i % 8, FULL_RING_SECTOR + (uint64_t) i, 7);
    for (int i = 0; i < size; i++) {
        struct seg w = {REF(128 + i / 8), (uint8_t) (i % 8), (uint8_t) (i % 8)};
        ids[i] = queue_rw(BLKIF_OP_WRITE, FULL_RING_SECTOR + (uint64_t) i, &w, 1, 1);
    }
    if (!RING_FULL(&front))
        return failf(n, "ring not full after %d requests", size);
    push();
    for (int i = 0; i < size; i++)
        if (!expect(n, wait_for(ids[i]), 0))
            return;
    /* Read it all back, eight pages per request, into frames 192..255. */
    for (int p = 0; p < size / 8; p += 8) {
        struct seg r[8];
        int pages = size / 8 - p < 8 ? size / 8 - p : 8;
        for (int i = 0; i < pages; i++) {
            memset(frame(192 + p + i), FILL, PAGE);
            r[i] = (struct seg){REF(192 + p + i), 0, 7};
        }
        if (!expect(n, rw(BLKIF_OP_READ, FULL_RING_SECTOR + 8 * (uint64_t) p, r, pages), 0))
            return;
    }
    for (int p = 0; p < size / 8; p++)
        if (!holds(192 + p, 0, 7, FULL_RING_SECTOR + 8 * (uint64_t) p, 7))
            return failf(n, "read back of page %d differs", p);
    ok(n);
}

static void hostile(const char *n, uint8_t op, uint64_t sector, struct seg s, int nsegs, uint8_t nr, int want)
{
    struct seg segs[BLKIF_MAX_SEGMENTS_PER_REQUEST];
    for (int i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
        segs[i] = (struct seg){REF(50), 0, 7};
    segs[0] = s;
    if (expect(n, rw_nr(op, sector, segs, nsegs, nr), want))
        ok(n);
}

static void hostile_cases(void)
{
    /* Frame 50 holds data (seed 9) that must never reach the disk; frame 52 is a read target. */
    fill(50, 0, 7, 0, 9);
    memset(frame(52), FILL, PAGE);
    struct seg good_r = {REF(52), 0, 7};
    hostile("bad_gref_beyond_table", BLKIF_OP_WRITE, 800, (struct seg){BEYOND_TABLE_REF, 0, 7}, 1, 1, BLKIF_RSP_ERROR);
    hostile("revoked_gref", BLKIF_OP_WRITE, 808, (struct seg){REVOKED_REF, 0, 7}, 1, 1, BLKIF_RSP_ERROR);
    hostile("gref_for_other_domain", BLKIF_OP_READ, 16, (struct seg){OTHER_DOMAIN_REF, 0, 7}, 1, 1,
            BLKIF_RSP_ERROR);
    hostile("gref_frame_beyond_memory", BLKIF_OP_READ, 16, (struct seg){BAD_FRAME_REF, 0, 7}, 1, 1,
            BLKIF_RSP_ERROR);

    memset(frame(5), 0xAB, PAGE);
    hostile("read_into_readonly_grant", BLKIF_OP_READ, 16, (struct seg){RO_REF, 0, 7}, 1, 1, BLKIF_RSP_ERROR);
    if (!all(5, 0, PAGE, 0xAB))
        failf("read_into_readonly_grant_untouched", "the backend wrote into a read-only granted page");
    else
        ok("read_into_readonly_grant_untouched");
    fill(5, 0, 7, 700, 8);
    /* A WRITE only reads the guest page, so a read-only grant serves, except with persistent grants: those
     * are mapped writable once for reuse by any later request (as Linux blkback does), so one is refused. */
    hostile("write_from_readonly_grant", BLKIF_OP_WRITE, 700, (struct seg){RO_REF, 0, 7}, 1, 1,
            persistent ? BLKIF_RSP_ERROR : BLKIF_RSP_OKAY);

    hostile("nr_segments_0_read", BLKIF_OP_READ, 16, good_r, 0, 0, BLKIF_RSP_ERROR);
    hostile("nr_segments_0_write", BLKIF_OP_WRITE, 816, good_r, 0, 0, BLKIF_RSP_ERROR);
    hostile("nr_segments_12", BLKIF_OP_WRITE, 824, (struct seg){REF(50), 0, 7}, 11, 12, BLKIF_RSP_ERROR);
    hostile("nr_segments_255", BLKIF_OP_READ, 16, good_r, 11, 255, BLKIF_RSP_ERROR);
    hostile("sector_at_device_end", BLKIF_OP_READ, dev_sectors, good_r, 1, 1, BLKIF_RSP_ERROR);
    hostile("sector_straddles_device_end", BLKIF_OP_WRITE, dev_sectors - 4, (struct seg){REF(50), 0, 7}, 1, 1,
            BLKIF_RSP_ERROR);
    hostile("sector_wraps_u64", BLKIF_OP_READ, UINT64_MAX - 3, good_r, 1, 1, BLKIF_RSP_ERROR);
    hostile("last_sect_before_first_sect", BLKIF_OP_WRITE, 840, (struct seg){REF(50), 5, 2}, 1, 1,
            BLKIF_RSP_ERROR);
    hostile("last_sect_8", BLKIF_OP_WRITE, 848, (struct seg){REF(50), 0, 8}, 1, 1, BLKIF_RSP_ERROR);
    hostile("first_sect_8", BLKIF_OP_READ, 16, (struct seg){REF(52), 8, 8}, 1, 1, BLKIF_RSP_ERROR);
    hostile("unknown_operation_42", 42, 16, good_r, 1, 1, BLKIF_RSP_EOPNOTSUPP);
    hostile("reserved_operation_4", BLKIF_OP_RESERVED_1, 16, good_r, 1, 1, BLKIF_RSP_EOPNOTSUPP);

    const char *n = "indirect_zero_segments";
    fill(53, 0, 7, 0, 9);
    if (expect(n, indirect(BLKIF_OP_READ, 16, 0, REF(53)), BLKIF_RSP_ERROR))
        ok(n);
    n = "indirect_too_many_segments";
    if (expect(n, indirect(BLKIF_OP_READ, 16, 8 * 512 + 1, REF(53)), BLKIF_RSP_ERROR))
        ok(n);
    n = "indirect_nested_indirect";
    if (expect(n, indirect(BLKIF_OP_INDIRECT, 16, 1, REF(53)), BLKIF_RSP_ERROR))
        ok(n);
}

/* A read whose second segment is bad must fail without putting anything but disk data in the first page. */
static void partial_read_no_leak(void)
{
    const char *n = "failed_read_leaks_nothing";
    memset(frame(48), FILL, PAGE);
    struct seg r[2] = {{REF(48), 0, 7}, {BEYOND_TABLE_REF, 0, 7}};
    if (!expect(n, rw(BLKIF_OP_READ, 16, r, 2), BLKIF_RSP_ERROR))
        return;
    if (!all(48, 0, PAGE, FILL) && !holds(48, 0, 7, 16, 1))
        return failf(n, "the failed read left bytes in the guest page that are neither its own nor disk data");
    ok(n);
}

/* After every hostile request the ring still serves good ones. */
static void ring_survives(void)
{
    const char *n = "ring_survives_hostile_requests";
    memset(frame(49), FILL, PAGE);
    struct seg r = {REF(49), 0, 7};
    if (!expect(n, rw(BLKIF_OP_READ, 16, &r, 1), 0))
        return;
    if (!holds(49, 0, 7, 16, 1))
        return failf(n, "read back differs");
    ok(n);
}

/* Queue 1 serves its own ring: a two-page write and read back, then a flush. */
static void second_queue(void)
{
    const char *n = "queue1_write_read";
    fill(124, 0, 7, 1950, 12);
    fill(125, 0, 7, 1958, 12);
    memset(frame(126), FILL, PAGE);
    memset(frame(127), FILL, PAGE);
    struct seg w[2] = {{REF(124), 0, 7}, {REF(125), 0, 7}}, r[2] = {{REF(126), 0, 7}, {REF(127), 0, 7}};
    if (!expect(n, rw(BLKIF_OP_WRITE, 1950, w, 2), 0) || !expect(n, rw(BLKIF_OP_READ, 1950, r, 2), 0)
            || !expect(n, rw(BLKIF_OP_FLUSH_DISKCACHE, 0, NULL, 0), 0))
        return;
    if (!holds(126, 0, 7, 1950, 12) || !holds(127, 0, 7, 1958, 12))
        return failf(n, "read back differs");
    ok(n);
}

/* ---- xenbus handshake through xenstore ------------------------------------------------------------ */

static struct xs_handle *xs;
static int reconnecting;               /* the backend is still Closed from the last connection */
static char fe_path[256];
static char *be_path;

static char *xs_get(const char *dir, const char *key)
{
    char path[512];
    unsigned int len;
    snprintf(path, sizeof path, "%s/%s", dir, key);
    return xs_read(xs, XBT_NULL, path, &len);
}

static int xs_get_int(const char *dir, const char *key, int absent)
{
    char *v = xs_get(dir, key);
    int r = v ? atoi(v) : absent;
    free(v);
    return r;
}

static int xs_put(xs_transaction_t t, const char *dir, const char *key, const char *value)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, key);
    return xs_write(xs, t, path, value, (unsigned int) strlen(value)) ? 0 : -1;
}

static void set_state(int state)
{
    char v[8];
    snprintf(v, sizeof v, "%d", state);
    if (xs_put(XBT_NULL, fe_path, "state", v) < 0)
        die("write frontend state");
}

/* Waits (on the state watch) until the backend's state is want; -1 after 30 s or on a fatal backend state. */
static int await_backend_state(int want)
{
    for (int waited = 0; waited < 30000;) {
        int st = xs_get_int(be_path, "state", -1);
        if (st == want)
            return 0;
        if (want < XenbusStateClosing && st >= XenbusStateClosing && !(reconnecting && st == XenbusStateClosed)) {
            char *err = xs_get(be_path, "error");
            printf("backend went to state %d waiting for %d (error: %s)\n", st, want, err ? err : "none");
            free(err);
            return -1;
        }
        struct pollfd p = {.fd = xs_fileno(xs), .events = POLLIN};
        if (poll(&p, 1, 1000) == 0)
            waited += 1000;
        char **w;
        while ((w = xs_check_watch(xs)) != NULL)
            free(w);
    }
    return -1;
}

static void print_backend_key(const char *key)
{
    char *v = xs_get(be_path, key);
    printf("backend %s=%s\n", key, v ? v : "(absent)");
    free(v);
}

static void xenbus_negotiate(int order);

static void xenbus_connect(int domid, int devid, int order)
{
    xs = xs_open(XS_OPEN_SOCKETONLY);
    if (!xs)
        die("xs_open (XENSTORED_PATH)");
    snprintf(fe_path, sizeof fe_path, "/local/domain/%d/device/vbd/%d", domid, devid);
    be_path = xs_get(fe_path, "backend");
    if (!be_path) {
        printf("fatal no %s/backend in xenstore\n", fe_path);
        exit(2);
    }
    char watch[512];
    snprintf(watch, sizeof watch, "%s/state", be_path);
    if (!xs_watch(xs, watch, "backend-state"))
        die("xs_watch");
    xenbus_negotiate(order);
}

/* From the backend's InitWait to Connected: check its offer, publish our rings, wait for it to connect. */
static void xenbus_negotiate(int order)
{
    if (await_backend_state(XenbusStateInitWait) < 0) {
        printf("fatal the backend never reached InitWait\n");
        exit(2);
    }
    max_indirect = xs_get_int(be_path, "feature-max-indirect-segments", 0);
    const char *keys[] = {"max-ring-page-order", "multi-queue-max-queues", "feature-max-indirect-segments",
                          "feature-persistent", "feature-flush-cache", "feature-barrier", "feature-discard"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        print_backend_key(keys[i]);
    if (nr_queues > xs_get_int(be_path, "multi-queue-max-queues", 1)) {
        printf("fatal the backend does not offer %d queues\n", nr_queues);
        exit(2);
    }
    if (order > xs_get_int(be_path, "max-ring-page-order", 0)) {
        printf("fatal the backend does not offer ring page order %d\n", order);
        exit(2);
    }
    char v[32], key[32];
    for (;;) {
        xs_transaction_t t = xs_transaction_start(xs);
        if (t == XBT_NULL)
            die("xs_transaction_start");
        if (order > 0) {
            snprintf(v, sizeof v, "%d", order);
            xs_put(t, fe_path, "ring-page-order", v);
        }
        if (nr_queues > 1) {
            snprintf(v, sizeof v, "%d", nr_queues);
            xs_put(t, fe_path, "multi-queue-num-queues", v);
        }
        for (int q = 0; q < nr_queues; q++) {
            char qdir[300];
            if (nr_queues > 1)
                snprintf(qdir, sizeof qdir, "%s/queue-%d", fe_path, q);
            else
                snprintf(qdir, sizeof qdir, "%s", fe_path);
            if (order == 0) {
                snprintf(v, sizeof v, "%d", REF(RING_FRAME_Q(q)));
                xs_put(t, qdir, "ring-ref", v);
            } else {
                for (int i = 0; i < 1 << order; i++) {
                    snprintf(key, sizeof key, "ring-ref%d", i);
                    snprintf(v, sizeof v, "%d", REF(RING_FRAME_Q(q) + i));
                    xs_put(t, qdir, key, v);
                }
            }
            snprintf(v, sizeof v, "%d", EVTCHN_PORT + q);
            xs_put(t, qdir, "event-channel", v);
        }
        xs_put(t, fe_path, "protocol", PROTOCOL);
        snprintf(v, sizeof v, "%d", XenbusStateInitialised);
        xs_put(t, fe_path, "state", v);
        if (xs_transaction_end(xs, t, false))
            break;
        if (errno != EAGAIN)
            die("xs_transaction_end");
    }
    if (await_backend_state(XenbusStateConnected) < 0) {
        printf("fatal the backend never reached Connected\n");
        exit(2);
    }
    print_backend_key("sectors");
    print_backend_key("sector-size");
    print_backend_key("info");
    if ((uint64_t) xs_get_int(be_path, "sectors", -1) != dev_sectors || xs_get_int(be_path, "sector-size", -1) != 512)
        failf("xenbus_connected_geometry", "backend sectors/sector-size do not describe the device");
    else
        ok("xenbus_connected_geometry");
}

/* A frontend that claims more outstanding requests than the ring holds is broken or hostile. */
static void overrun(void)
{
    const char *n = "ring_overrun_shuts_device_down";
    front.sring->req_prod = front.req_prod_pvt + RING_SIZE(&front) + 5;
    notify_backend();
    int st = -1;
    for (int waited = 0; waited < 30000;) {
        st = xs_get_int(be_path, "state", -1);
        if (st >= XenbusStateClosing)
            break;
        struct pollfd p = {.fd = xs_fileno(xs), .events = POLLIN};
        if (poll(&p, 1, 1000) == 0)
            waited += 1000;
        char **w;
        while ((w = xs_check_watch(xs)) != NULL)
            free(w);
    }
    print_backend_key("error");
    if (st < XenbusStateClosing)
        return failf(n, "the backend stayed in state %d", st);
    ok(n);
}

static void xenbus_close(void)
{
    set_state(XenbusStateClosing);
    if (await_backend_state(XenbusStateClosed) < 0)
        failf("xenbus_closed", "the backend did not reach Closed after the frontend closed");
    else
        ok("xenbus_closed");
    set_state(XenbusStateClosed);
}

/* ---- setup -------------------------------------------------------------------------------------- */

static void init_rings(int order)
{
    for (int q = 0; q < nr_queues; q++) {
        sring_t *sring = (sring_t *) frame(RING_FRAME_Q(q));
        SHARED_RING_INIT(sring);
        FRONT_RING_INIT(&fronts[q], sring, (size_t) PAGE << order);
    }
}

static int accept_event_channels(const int *listeners)
{
    for (int q = 0; q < nr_queues; q++) {
        struct pollfd p = {.fd = listeners[q], .events = POLLIN};
        if (poll(&p, 1, 30000) <= 0) {
            printf("fatal the backend never bound event channel %d\n", EVTCHN_PORT + q);
            return -1;
        }
        evtchns[q] = accept4(listeners[q], NULL, NULL, SOCK_CLOEXEC);
        if (evtchns[q] < 0)
            die("accept");
    }
    return 0;
}

/*
 * After a clean close, the frontend returns to Initialising with fresh rings (as a guest does after
 * suspend/resume or a driver reload): the backend must offer the device again, and the data is still there.
 */
static void reconnect(int order, const int *listeners)
{
    const char *n = "reconnect_after_close";
    for (int q = 0; q < nr_queues; q++)
        close(evtchns[q]);
    init_rings(order);
    reconnecting = 1;
    set_state(XenbusStateInitialising);
    xenbus_negotiate(order);
    reconnecting = 0;
    if (accept_event_channels(listeners) < 0)
        return failf(n, "no event channel after reconnecting");
    set_state(XenbusStateConnected);
    /* The data of multi_segment_11, written before the close, read through the new ring. */
    struct seg r[11];
    for (int i = 0; i < 11; i++) {
        memset(frame(21 + i), FILL, PAGE);
        r[i] = (struct seg){REF(21 + i), 0, 7};
    }
    if (!expect(n, rw(BLKIF_OP_READ, 64, r, 11), 0))
        return;
    for (int i = 0; i < 11; i++)
        if (!holds(21 + i, 0, 7, 64 + 8 * (uint64_t) i, 2))
            return failf(n, "data written before the reconnect reads back differently");
    ok(n);
    xenbus_close();
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s DIR DOMID DEVICE_SECTORS RING_PAGE_ORDER hook|xenstore:DEVID\n", argv[0]);
        return 2;
    }
    int use_xenstore = strncmp(argv[5], "xenstore:", 9) == 0;
    persistent = getenv("PERSISTENT") && strcmp(getenv("PERSISTENT"), "1") == 0;
    if (getenv("QUEUES"))
        nr_queues = atoi(getenv("QUEUES"));
    if (nr_queues < 1 || nr_queues > MAX_QUEUES || (nr_queues > 1 && !use_xenstore)) {
        fprintf(stderr, "QUEUES is 1..%d (several only with xenstore)\n", MAX_QUEUES);
        return 2;
    }
    if (getenv("MAX_INDIRECT"))
        max_indirect = atoi(getenv("MAX_INDIRECT"));
    int devid = use_xenstore ? atoi(argv[5] + 9) : 0;
    const char *dir = argv[1];
    int domid = atoi(argv[2]);
    dev_sectors = strtoull(argv[3], NULL, 10);
    int order = atoi(argv[4]);
    if (order < 0 || order > MAX_ORDER || dev_sectors < FULL_RING_SECTOR + 512) {
        fprintf(stderr, "order 0..%d and at least %d sectors\n", MAX_ORDER, FULL_RING_SECTOR + 512);
        return 2;
    }
    char path[4096];

    snprintf(path, sizeof path, "%s/dom%d", dir, domid);
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        die(path);
    snprintf(path, sizeof path, "%s/dom%d/evtchn", dir, domid);
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        die(path);
    snprintf(path, sizeof path, "%s/dom%d/memory", dir, domid);
    mem = map_file(path, (size_t) NR_FRAMES * PAGE);
    snprintf(path, sizeof path, "%s/dom%d/grant-table", dir, domid);
    gnttab = map_file(path, NR_GREFS * sizeof(grant_entry_v1_t));

    init_rings(order);

    for (int f = 1; f < NR_FRAMES; f++)
        if (f < 5 || f > 7)
            grant(REF(f), (uint32_t) f, 0, GTF_permit_access);
    grant(RO_REF, 5, 0, GTF_permit_access | GTF_readonly);
    grant(REVOKED_REF, 6, 0, GTF_permit_access);
    grant(REVOKED_REF, 6, 0, 0);
    grant(OTHER_DOMAIN_REF, 7, 7, GTF_permit_access);
    grant(BAD_FRAME_REF, 100000, 0, GTF_permit_access);

    int listeners[MAX_QUEUES];
    for (int q = 0; q < nr_queues; q++) {
        listeners[q] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        snprintf(addr.sun_path, sizeof addr.sun_path, "%s/dom%d/evtchn/%d.sock", dir, domid, EVTCHN_PORT + q);
        unlink(addr.sun_path);
        if (listeners[q] < 0 || bind(listeners[q], (struct sockaddr *) &addr, sizeof addr) < 0
                || listen(listeners[q], 1) < 0)
            die(addr.sun_path);
    }

    printf("frontend ring-refs=");
    for (int i = 0; i < 1 << order; i++)
        printf(i ? ",%d" : "%d", REF(RING_FRAME + i));
    printf(" event-channel=%d protocol=%s ring-size=%u\n", EVTCHN_PORT, PROTOCOL, RING_SIZE(&front));
    fflush(stdout);
    if (use_xenstore)
        xenbus_connect(domid, devid, order);   /* the backend binds (connects) before it is Connected */

    if (accept_event_channels(listeners) < 0)
        return 2;
    char line[16];
    if (use_xenstore)
        set_state(XenbusStateConnected);
    else if (!fgets(line, sizeof line, stdin) || strncmp(line, "go", 2) != 0) {
        printf("fatal no go from the test\n");
        return 2;
    }

    if (use_xenstore && getenv("OVERRUN") && strcmp(getenv("OVERRUN"), "1") == 0) {
        write_read_page();
        overrun();
        printf("summary %d %d\n", n_ok, n_fail);
        fflush(stdout);
        return n_fail == 0 ? 0 : 1;
    }
    write_read_page();
    multi_segment();
    sub_page();
    sub_page_multi();
    flush();
    barrier();
    full_ring();
    indirect_io();
    discards();
    hostile_cases();
    partial_read_no_leak();
    ring_survives();

    if (nr_queues > 1) {
        queue = 1;
        second_queue();
        queue = 0;
    }
    if (protocol_errors)
        failf("responses_well_formed", "%d responses with unknown ids or wrong operations", protocol_errors);
    else
        ok("responses_well_formed");
    if (use_xenstore) {
        xenbus_close();
        if (getenv("RECONNECT") && strcmp(getenv("RECONNECT"), "1") == 0)
            reconnect(order, listeners);
    }
    printf("summary %d %d\n", n_ok, n_fail);
    fflush(stdout);
    for (int q = 0; q < nr_queues; q++)
        close(evtchns[q]);
    return n_fail == 0 ? 0 : 1;
}
