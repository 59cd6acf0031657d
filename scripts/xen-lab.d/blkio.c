/*
 * blkio: the Xen lab's workload and checker. Writes a pattern that depends only on (seed, byte offset),
 * so anyone can check any range later (the guest right after writing, dom0 on the image afterwards),
 * and verifies every byte it reads. Static, no dependencies: it runs in the guest's busybox initramfs
 * and in dom0.
 *
 *   blkio write|verify|zero DEV -s SEED -o OFFSET -l LENGTH -b BS [-d] [-r] [-f] [-u]
 *     write   write the pattern over [OFFSET, OFFSET+LENGTH) in BS-sized requests
 *     verify  read the range back and compare every byte with the pattern
 *     zero    read the range back and expect zeroes
 *     -d O_DIRECT, -r random request order (a permutation, every block once), -f fsync at the end,
 *     -u O_SYNC|O_DSYNC writes (FUA on blkif)
 * Prints one line and exits 0 when everything matched, 1 on a mismatch or an I/O error, 2 on usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The 8-byte word at absolute offset pos (a multiple of 8) for this seed. */
static uint64_t word(uint64_t seed, uint64_t pos) { return mix(seed * 0x100000001b3ULL ^ pos); }

static void fill(unsigned char *buf, size_t len, uint64_t seed, uint64_t pos) {
    for (size_t i = 0; i < len; i += 8) {
        uint64_t w = word(seed, pos + i);
        memcpy(buf + i, &w, 8);
    }
}

static uint64_t parse_size(const char *s) {
    char *end;
    uint64_t v = strtoull(s, &end, 0);
    switch (*end) {
        case 'k': case 'K': v <<= 10; break;
        case 'm': case 'M': v <<= 20; break;
        case 'g': case 'G': v <<= 30; break;
        default: break;
    }
    return v;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: blkio write|verify|zero DEV -s SEED -o OFF -l LEN -b BS [-d] [-r] [-f] [-u]\n");
        return 2;
    }
    const char *cmd = argv[1], *dev = argv[2];
    uint64_t seed = 1, off = 0, len = 1 << 20, bs = 4096;
    int direct = 0, random_order = 0, do_fsync = 0, sync_writes = 0, opt;
    optind = 3;
    while ((opt = getopt(argc, argv, "s:o:l:b:drfu")) != -1) {
        switch (opt) {
            case 's': seed = parse_size(optarg); break;
            case 'o': off = parse_size(optarg); break;
            case 'l': len = parse_size(optarg); break;
            case 'b': bs = parse_size(optarg); break;
            case 'd': direct = 1; break;
            case 'r': random_order = 1; break;
            case 'f': do_fsync = 1; break;
            case 'u': sync_writes = 1; break;
            default: return 2;
        }
    }
    int writing = strcmp(cmd, "write") == 0, zero = strcmp(cmd, "zero") == 0;
    if (!writing && !zero && strcmp(cmd, "verify") != 0) {
        fprintf(stderr, "blkio: unknown command %s\n", cmd);
        return 2;
    }
    if (bs == 0 || bs % 512 || off % 512 || len % bs) {
        fprintf(stderr, "blkio: BS, OFFSET must be multiples of 512 and LENGTH of BS\n");
        return 2;
    }
    int flags = (writing ? O_RDWR : O_RDONLY) | (direct ? O_DIRECT : 0) | (sync_writes ? O_DSYNC : 0);
    int fd = open(dev, flags);
    if (fd < 0) {
        printf("blkio %s %s: FAIL open: %s\n", cmd, dev, strerror(errno));
        return 1;
    }
    unsigned char *buf, *want;
    if (posix_memalign((void **) &buf, 4096, bs) || posix_memalign((void **) &want, 4096, bs)) {
        printf("blkio: FAIL out of memory\n");
        return 1;
    }
    uint64_t n = len / bs;
    uint64_t *order = malloc(n * sizeof *order);
    for (uint64_t i = 0; i < n; i++) order[i] = i;
    if (random_order) {
        uint64_t r = seed ^ 0x5eed;
        for (uint64_t i = n - 1; i > 0; i--) {
            r = mix(r);
            uint64_t j = r % (i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    }
    for (uint64_t k = 0; k < n; k++) {
        uint64_t pos = off + order[k] * bs;
        ssize_t r;
        if (writing) {
            fill(buf, bs, seed, pos);
            r = pwrite(fd, buf, bs, pos);
        } else {
            memset(buf, 0xa5, bs); /* a read that returns without writing the buffer must not pass */
            r = pread(fd, buf, bs, pos);
        }
        if (r != (ssize_t) bs) {
            printf("blkio %s %s: FAIL %s at offset %" PRIu64 " (%zd of %" PRIu64 " bytes): %s\n", cmd, dev,
                   writing ? "write" : "read", pos, r, bs, r < 0 ? strerror(errno) : "short");
            return 1;
        }
        if (!writing) {
            if (zero) memset(want, 0, bs); else fill(want, bs, seed, pos);
            if (memcmp(buf, want, bs) != 0) {
                uint64_t i = 0;
                while (buf[i] == want[i]) i++;
                printf("blkio %s %s: FAIL mismatch at byte %" PRIu64 " (got %02x, want %02x)\n", cmd, dev,
                       pos + i, buf[i], want[i]);
                return 1;
            }
        }
    }
    if (do_fsync && fsync(fd) != 0) {
        printf("blkio %s %s: FAIL fsync: %s\n", cmd, dev, strerror(errno));
        return 1;
    }
    if (close(fd) != 0) {
        printf("blkio %s %s: FAIL close: %s\n", cmd, dev, strerror(errno));
        return 1;
    }
    printf("blkio %s %s: ok %" PRIu64 " bytes at %" PRIu64 " in %" PRIu64 "-byte requests%s%s\n", cmd, dev, len,
           off, bs, direct ? ", O_DIRECT" : "", random_order ? ", random order" : "");
    return 0;
}
