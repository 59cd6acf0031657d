/*
 * The lab's control client: sends one command line to `tapdisk4j serve`'s control socket and prints the
 * answer, exactly as `tapdisk4j ctl` does, without starting a JVM (seconds to minutes under emulation).
 *   ctl SOCKET WORD...     exit 0 when the daemon answered "ok"
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: ctl SOCKET COMMAND...\n");
        return 2;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *) &a, sizeof a) < 0) {
        perror(argv[1]);
        return 1;
    }
    char line[4096] = "";
    for (int i = 2; i < argc; i++) {
        if (strlen(line) + strlen(argv[i]) + 2 >= sizeof line) return 2;
        strcat(line, argv[i]);
        strcat(line, i + 1 < argc ? " " : "\n");
    }
    if (write(fd, line, strlen(line)) != (ssize_t) strlen(line)) {
        perror("write");
        return 1;
    }
    static char answer[1 << 20];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof answer - 1 && (r = read(fd, answer + n, sizeof answer - 1 - n)) > 0) n += r;
    answer[n] = 0;
    char *body = strchr(answer, '\n');
    int ok = strncmp(answer, "ok\n", 3) == 0;
    fputs(body ? body + 1 : answer, ok ? stdout : stderr);
    return ok ? 0 : 1;
}
