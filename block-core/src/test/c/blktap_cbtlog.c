/*
 * Writes and reads a changed-block log through blktap's documented C layout (cbt/cbt-util.h:
 * struct cbt_log_metadata, then the bitmap as drivers/block-log.c sets it, in unsigned long words), so the
 * compiler, not a hand-written offset table, decides the header's size, padding and byte order.
 *
 *   blktap_cbtlog write FILE SIZE CONSISTENT BLOCK...   parent = 00 01 .. 0f, child = f0 f1 .. ff
 *   blktap_cbtlog read FILE                              prints header fields, then the set blocks
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned char uuid_bytes[16]; /* libuuid's uuid_t */

struct cbt_log_metadata {
    uuid_bytes parent;
    uuid_bytes child;
    int consistent;
    uint64_t size;
};

#define BLOCK (64 * 1024)
#define LONG_BITS (sizeof(unsigned long) * 8)

static uint64_t bitmap_bytes(uint64_t size) {
    uint64_t blocks = (size + BLOCK - 1) / BLOCK;
    return (blocks + 7) / 8;
}

int main(int argc, char **argv) {
    if (argc >= 6 && strcmp(argv[1], "write") == 0) {
        struct cbt_log_metadata m;
        memset(&m, 0xa5, sizeof m); /* the padding holds whatever malloc left: never zero here */
        for (int i = 0; i < 16; i++) {
            m.parent[i] = (unsigned char) i;
            m.child[i] = (unsigned char) (0xf0 + i);
        }
        m.consistent = atoi(argv[4]);
        m.size = strtoull(argv[3], NULL, 10);
        uint64_t n = bitmap_bytes(m.size);
        size_t words = (n + sizeof(unsigned long) - 1) / sizeof(unsigned long);
        unsigned long *bits = calloc(words, sizeof(unsigned long));
        for (int i = 5; i < argc; i++) {
            uint64_t b = strtoull(argv[i], NULL, 10);
            bits[b / LONG_BITS] |= 1UL << (b % LONG_BITS);
        }
        FILE *f = fopen(argv[2], "w");
        if (!f || fwrite(&m, sizeof m, 1, f) != 1 || fwrite(bits, n, 1, f) != 1 || fclose(f) != 0) {
            perror(argv[2]);
            return 1;
        }
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "read") == 0) {
        struct cbt_log_metadata m;
        FILE *f = fopen(argv[2], "r");
        if (!f || fread(&m, sizeof m, 1, f) != 1) {
            perror(argv[2]);
            return 1;
        }
        printf("header %zu\nparent", sizeof m);
        for (int i = 0; i < 16; i++) printf(" %02x", m.parent[i]);
        printf("\nchild");
        for (int i = 0; i < 16; i++) printf(" %02x", m.child[i]);
        printf("\nconsistent %d\nsize %llu\nblocks", m.consistent, (unsigned long long) m.size);
        uint64_t n = bitmap_bytes(m.size);
        size_t words = (n + sizeof(unsigned long) - 1) / sizeof(unsigned long);
        unsigned long *bits = calloc(words, sizeof(unsigned long));
        if (fread(bits, n, 1, f) != 1) {
            perror("bitmap");
            return 1;
        }
        for (uint64_t b = 0; b < n * 8; b++) {
            if ((bits[b / LONG_BITS] >> (b % LONG_BITS)) & 1) printf(" %llu", (unsigned long long) b);
        }
        printf("\n");
        return 0;
    }
    fprintf(stderr, "usage: blktap_cbtlog write FILE SIZE CONSISTENT BLOCK... | read FILE\n");
    return 2;
}
