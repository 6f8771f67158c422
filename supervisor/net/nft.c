/* SPDX-License-Identifier: MIT */
#include "nft.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "macro.h"

#define EXIT_NO_NFT 127

/* Where nft lives on Debian, and elsewhere; PATH first. */
static const char *const nft_fallbacks[] = {"/usr/sbin/nft", "/sbin/nft", "/usr/local/sbin/nft"};

_noreturn_ static void exec_nft(int in, int out) {
        char *argv[] = {(char *) "nft", (char *) "-f", (char *) "-", NULL};
        sigset_t none;
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

        /* Our callers block every signal for their signalfd; nft must not inherit that. */
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        (void) signal(SIGPIPE, SIG_DFL);
        if (null < 0 || dup2(in, 0) < 0 || dup2(null, 1) < 0 || dup2(out, 2) < 0)
                _exit(EXIT_FAILURE);
        (void) close_range(3, ~0U, 0);
        execvp(argv[0], argv);
        for (size_t i = 0; i < ELEMENTSOF(nft_fallbacks); i++)
                execv(nft_fallbacks[i], argv);
        _exit(EXIT_NO_NFT);
}

/* nft's complaint, on one line: "Error: ...; <the offending line>". */
static void read_message(int fd, char *err, size_t errlen) {
        char buf[1024];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        size_t w = 0;

        if (n <= 0) {
                snprintf(err, errlen, "nft failed without a message");
                return;
        }
        buf[n] = 0;
        for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line && w + 1 < errlen;
             line = strtok_r(NULL, "\n", &save)) {
                if (line[strspn(line, " ^~")] == 0) /* the caret line under the offending text */
                        continue;
                w += (size_t) snprintf(err + w, errlen - w, "%s%s", w ? "; " : "nft: ", line);
        }
}

int nft_run(const char *script, char *err, size_t errlen) {
        _cleanup_close_ int in = -EBADF, out = -EBADF;
        size_t len = strlen(script);
        int status;
        pid_t pid;

        /* Memory files instead of pipes: the script is written whole before nft starts and nft's
         * output is read after it ended, so neither side can block on the other. */
        in = memfd_create("sup-nft-script", MFD_CLOEXEC);
        out = memfd_create("sup-nft-output", MFD_CLOEXEC);
        if (in < 0 || out < 0)
                return negative_errno();
        if (write(in, script, len) != (ssize_t) len || lseek(in, 0, SEEK_SET) < 0)
                return -EIO;

        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0)
                exec_nft(in, out);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_NO_NFT) {
                snprintf(err, errlen, "cannot run nft (install nftables)");
                return -ENOENT;
        }
        read_message(out, err, errlen);
        return -EPROTO;
}
