/*
 * The back-ring index rules of Xen's xen/io/ring.h, evaluated by its own macros on generated ring states
 * (free-running u32 indexes near 0, 2^31 and 2^32, sane and hostile frontends). One line per state:
 *   order rsp_prod req_prod rsp_event req_event take put | unconsumed prod_overflow cons_overflow notify
 *   rsp_prod_after more req_event_after
 * RingMacrosTest replays each state with the Java BackRing and compares every output.
 * With "front" as second argument it does the same for the front ring (FrontRing, used by the emulator):
 *   order start req_event n m k | notify free full more rsp_event
 * (attach at start, queue n requests and push, the backend answers m, the frontend takes k of them).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#include <xen/io/ring.h>
#include <xen/io/blkif.h>

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t) (rng >> 16);
}

static uint8_t pages[4096 << 2] __attribute__((aligned(4096)));

static void front(int cases)
{
    const uint32_t bases[] = {0, 1, 0x7ffffff0u, 0x80000000u, 0xfffffff0u, 0xffffffffu};
    for (int c = 0; c < cases; c++) {
        int order = (int) (next() % 3);
        blkif_sring_t *s = (blkif_sring_t *) pages;
        memset(pages, 0, sizeof pages);
        blkif_front_ring_t fr;
        uint32_t start = (c % 2 ? next() : bases[next() % 6]) + next() % 8;
        SHARED_RING_INIT(s);
        s->req_prod = s->rsp_prod = start;
        s->rsp_event = start + 1;              /* a fresh ring whose counters start at start */
        FRONT_RING_ATTACH(&fr, s, start, (size_t) 4096 << order);
        uint32_t size = RING_SIZE(&fr);
        /* The backend's last req_event: just past start (it waits), behind, or far away. */
        uint32_t req_event = next() % 3 == 0 ? start + 1 + next() % (size + 2) : start + next() % 4 - 2;
        s->req_event = req_event;
        uint32_t n = next() % 3 == 0 ? size : next() % (size + 1);
        for (uint32_t i = 0; i < n; i++) {
            RING_GET_REQUEST(&fr, fr.req_prod_pvt)->id = i;
            fr.req_prod_pvt++;
        }
        int notify, more;
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&fr, notify);
        uint32_t m = next() % 3 == 0 ? n : next() % (n + 1);
        s->rsp_prod = start + m;
        uint32_t k = next() % 3 == 0 ? m : next() % (m + 1);
        fr.rsp_cons += k;
        unsigned int free_requests = RING_FREE_REQUESTS(&fr);
        int full = RING_FULL(&fr);
        RING_FINAL_CHECK_FOR_RESPONSES(&fr, more);
        printf("%d %u %u %u %u %u | %d %u %d %d %u\n", order, start, req_event, n, m, k, notify, free_requests, full,
               more ? 1 : 0, s->rsp_event);
    }
}

int main(int argc, char **argv)
{
    int cases = argc > 1 ? atoi(argv[1]) : 4000;
    if (argc > 2 && strcmp(argv[2], "front") == 0) {
        front(cases);
        return 0;
    }
    const uint32_t bases[] = {0, 1, 0x7ffffff0u, 0x80000000u, 0xfffffff0u, 0xffffffffu};
    for (int c = 0; c < cases; c++) {
        int order = (int) (next() % 3);
        blkif_sring_t *s = (blkif_sring_t *) pages;
        memset(pages, 0, sizeof pages);
        blkif_back_ring_t br;
        uint32_t rsp_prod = (c % 2 ? next() : bases[next() % 6]) + next() % 8;
        uint32_t size = __CONST_RING_SIZE(blkif, 4096 << order);
        uint32_t req_prod;
        switch (next() % 6) {
        case 0: req_prod = rsp_prod + next() % 0x10000u; break;          /* far ahead: overflow */
        case 1: req_prod = rsp_prod - 1 - next() % 64; break;            /* behind: hostile */
        case 2: req_prod = rsp_prod + size; break;                       /* a full ring */
        default: req_prod = rsp_prod + next() % (size + 1); break;       /* sane */
        }
        uint32_t rsp_event = rsp_prod + next() % 80 - 16;
        uint32_t req_event = next() % 2 ? rsp_prod + 1 : next();
        s->req_prod = req_prod;
        s->rsp_prod = rsp_prod;
        s->rsp_event = rsp_event;
        s->req_event = req_event;
        BACK_RING_ATTACH(&br, s, rsp_prod, (size_t) 4096 << order);

        unsigned int unconsumed = RING_HAS_UNCONSUMED_REQUESTS(&br);
        int prod_overflow = RING_REQUEST_PROD_OVERFLOW(&br, s->req_prod);
        /* A backend takes requests only from a sane ring; it answers some of those it took. */
        uint32_t take = prod_overflow ? 0 : next() % 3 == 0 ? unconsumed : next() % (unconsumed + 1);
        uint32_t put = next() % 3 == 0 ? take : next() % 2 ? 0 : next() % (take + 1);
        br.req_cons += take;
        br.rsp_prod_pvt += put;
        int cons_overflow = RING_REQUEST_CONS_OVERFLOW(&br, br.req_cons);
        int notify, more;
        RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&br, notify);
        RING_FINAL_CHECK_FOR_REQUESTS(&br, more);
        printf("%d %u %u %u %u %u %u | %u %d %d %d %u %d %u\n", order, rsp_prod, req_prod, rsp_event, req_event, take,
               put, unconsumed, prod_overflow, cons_overflow, notify, s->rsp_prod, more ? 1 : 0, s->req_event);
    }
    return 0;
}
