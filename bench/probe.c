/* SPDX-License-Identifier: MIT */
/* bench-probe: the stopwatch of the benchmarks in bench/. It starts a command and timestamps, on
 * CLOCK_MONOTONIC with microsecond resolution, what follows from it:
 *
 *   bench-probe pipe [--stop CMD] [--timeout SEC] -- COMMAND...
 *       COMMAND's stdout is a pipe; prints the time from just before fork() to the first complete
 *       line on it ("first_line US TEXT"). Then runs CMD with sh -c (to stop the container), and
 *       waits for COMMAND ("exit US STATUS"), for at most SEC more ("killed US" if it had to).
 *
 *   bench-probe watch --dir DIR --match WORD [--count N] [--timeout SEC] [--then CMD]
 *                     [--signal SIG] -- COMMAND...
 *       Watches the files in DIR with inotify and prints every line appended to them after the
 *       start, with the time it was seen ("line US FILE TEXT"; a serial console's "\r\n" ends a
 *       line too), until N files (default 1) have a line that is WORD or ends in " WORD". Then
 *       runs CMD with sh -c (PROBE_PID in its environment: COMMAND's pid), sends COMMAND the
 *       signal number SIG ("signal US"), and prints when COMMAND exited ("exit US STATUS"; it is
 *       waited for, at most SEC more, then killed). --then and --signal let the command be a
 *       long-running one (a VM) that the probe keeps as its child until it is measured and ended.
 *       Files that exist at the start are read from their end at that moment.
 *
 * Every time is relative to t0, taken immediately before fork(). Exit status 0 when the goal was
 * reached, 1 on timeout or error. The probe itself measures nothing else and judges nothing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t t0;

static int64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t since(void) {
        return now_us() - t0;
}

static void die(const char *what) {
        fprintf(stderr, "bench-probe: %s: %s\n", what, strerror(errno));
        exit(1);
}

/* Forks COMMAND with stdout on out_fd (or /dev/null when -1); returns a pidfd. t0 is set here. */
static int spawn(char **argv, int out_fd, pid_t *ret_pid) {
        int pidfd;
        pid_t pid;

        fflush(stdout);
        t0 = now_us();
        pid = fork();
        if (pid < 0)
                die("fork");
        if (pid == 0) {
                int fd = out_fd >= 0 ? out_fd : open("/dev/null", O_WRONLY);
                if (fd < 0 || dup2(fd, 1) < 0)
                        _exit(127);
                execvp(argv[0], argv);
                fprintf(stderr, "bench-probe: cannot execute %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0)
                die("pidfd_open");
        *ret_pid = pid;
        return pidfd;
}

/* Waits for the command, for at most grace seconds: then it is killed (and reported as such). */
static void report_exit(pid_t pid, int pidfd, double grace) {
        struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
        int status;

        if (poll(&pfd, 1, (int) (grace * 1000)) == 0) {
                printf("killed %lld\n", (long long) since());
                (void) kill(pid, SIGKILL);
        }
        if (waitpid(pid, &status, 0) != pid)
                return;
        printf("exit %lld %d\n", (long long) since(),
               WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

static int cmd_pipe(char **argv, const char *stop, double timeout) {
        int p[2], pidfd;
        pid_t pid;
        char buf[4096];
        size_t used = 0;
        bool got = false;

        if (pipe2(p, O_CLOEXEC) < 0)
                die("pipe");
        pidfd = spawn(argv, p[1], &pid);
        close(p[1]);
        while (!got) {
                struct pollfd pfd = { .fd = p[0], .events = POLLIN };
                int64_t left = (int64_t) (timeout * 1e6) - since();
                ssize_t n;

                if (left <= 0 || poll(&pfd, 1, (int) (left / 1000) + 1) == 0) {
                        printf("timeout %lld\n", (long long) since());
                        break;
                }
                n = read(p[0], buf + used, sizeof(buf) - 1 - used);
                if (n <= 0) {
                        printf("eof %lld\n", (long long) since());
                        break;
                }
                used += (size_t) n;
                buf[used] = 0;
                char *nl = strchr(buf, '\n');
                if (nl || used == sizeof(buf) - 1) {
                        int64_t t = since();
                        if (nl)
                                *nl = 0;
                        printf("first_line %lld %s\n", (long long) t, buf);
                        got = true;
                }
        }
        close(p[0]);
        if (stop) {
                fflush(stdout);
                if (system(stop) != 0)
                        fprintf(stderr, "bench-probe: the stop command failed: %s\n", stop);
        }
        report_exit(pid, pidfd, timeout);
        close(pidfd);
        return got ? 0 : 1;
}

/* ---- watch ---- */

typedef struct File {
        char *name;
        off_t offset;
        char partial[4096];
        size_t used;
        bool matched;
} File;

static File *files;
static size_t n_files;

static File *file_get(const char *name, off_t offset) {
        for (size_t i = 0; i < n_files; i++)
                if (strcmp(files[i].name, name) == 0)
                        return &files[i];
        files = realloc(files, (n_files + 1) * sizeof(File));
        if (!files)
                die("realloc");
        files[n_files] = (File) { .name = strdup(name), .offset = offset };
        return &files[n_files++];
}

static bool line_matches(const char *line, const char *word) {
        size_t n = strlen(line), w = strlen(word);
        if (strcmp(line, word) == 0)
                return true;
        return n > w && line[n - w - 1] == ' ' && strcmp(line + n - w, word) == 0;
}

/* Reads what was appended to f; returns how many files newly matched (0 or 1). */
static int file_read(int dirfd, File *f, const char *word) {
        int fd = openat(dirfd, f->name, O_RDONLY | O_CLOEXEC), matched = 0;
        char buf[16384];
        ssize_t n;

        if (fd < 0)
                return 0;
        while ((n = pread(fd, buf, sizeof(buf), f->offset)) > 0) {
                int64_t t = since();
                f->offset += n;
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] != '\n') {
                                if (f->used < sizeof(f->partial) - 1)
                                        f->partial[f->used++] = buf[i];
                                continue;
                        }
                        if (f->used > 0 && f->partial[f->used - 1] == '\r')
                                f->used--;
                        f->partial[f->used] = 0;
                        printf("line %lld %s %s\n", (long long) t, f->name, f->partial);
                        if (!f->matched && line_matches(f->partial, word)) {
                                f->matched = true;
                                matched++;
                        }
                        f->used = 0;
                }
        }
        close(fd);
        return matched;
}

/* After the goal: CMD (with PROBE_PID set), then the signal, before the exit is waited for. */
static void then_signal(pid_t pid, const char *then, int sig) {
        if (then) {
                char p[32];
                snprintf(p, sizeof(p), "%d", (int) pid);
                if (setenv("PROBE_PID", p, 1) < 0)
                        die("setenv");
                fflush(stdout);
                if (system(then) != 0)
                        fprintf(stderr, "bench-probe: the command after the goal failed: %s\n", then);
        }
        if (sig > 0) {
                printf("signal %lld\n", (long long) since());
                if (kill(pid, sig) < 0)
                        die("kill");
        }
}

static int cmd_watch(char **argv, const char *dir, const char *word, int count, double timeout, const char *then,
                     int sig) {
        int ino, dirfd, pidfd, matched = 0;
        bool exited = false;
        pid_t pid;
        DIR *d;
        struct dirent *de;

        ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (ino < 0)
                die("inotify_init1");
        if (inotify_add_watch(ino, dir, IN_CREATE | IN_MODIFY | IN_MOVED_TO) < 0)
                die(dir);
        dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                die(dir);
        /* What is there already is history: start at each file's end. */
        d = fdopendir(dup(dirfd));
        if (!d)
                die(dir);
        while ((de = readdir(d))) {
                struct stat st;
                if (de->d_name[0] == '.' || fstatat(dirfd, de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
                        continue;
                file_get(de->d_name, st.st_size);
        }
        closedir(d);

        pidfd = spawn(argv, -1, &pid);
        while (matched < count) {
                struct pollfd pfd[2] = { { .fd = ino, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
                int64_t left = (int64_t) (timeout * 1e6) - since();
                char ev[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
                ssize_t n;

                if (left <= 0) {
                        printf("timeout %lld %d\n", (long long) since(), matched);
                        break;
                }
                if (poll(pfd, exited ? 1 : 2, (int) (left / 1000) + 1) < 0 && errno != EINTR)
                        die("poll");
                if (!exited && (pfd[1].revents & POLLIN)) {
                        report_exit(pid, pidfd, timeout);
                        exited = true;
                }
                if (!(pfd[0].revents & POLLIN))
                        continue;
                while ((n = read(ino, ev, sizeof(ev))) > 0)
                        for (char *p = ev; p < ev + n;) {
                                struct inotify_event *e = (struct inotify_event *) p;
                                p += sizeof(*e) + e->len;
                                if (e->len == 0 || e->name[0] == '.')
                                        continue;
                                matched += file_read(dirfd, file_get(e->name, 0), word);
                        }
        }
        if (matched >= count)
                printf("done %lld %d\n", (long long) since(), matched);
        if (!exited) {
                if (matched >= count)
                        then_signal(pid, then, sig);
                report_exit(pid, pidfd, timeout);
        }
        close(pidfd);
        close(dirfd);
        close(ino);
        return matched >= count ? 0 : 1;
}

static void usage(void) {
        fprintf(stderr, "usage: bench-probe pipe [--stop CMD] [--timeout SEC] -- COMMAND...\n"
                        "       bench-probe watch --dir DIR --match WORD [--count N] [--timeout SEC] [--then CMD]\n"
                        "                         [--signal SIG] -- COMMAND...\n");
        exit(2);
}

int main(int argc, char **argv) {
        const char *stop = NULL, *dir = NULL, *word = NULL, *then = NULL;
        double timeout = 30;
        int count = 1, sig = 0, i;

        if (argc < 2)
                usage();
        for (i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
                if (i + 1 >= argc)
                        usage();
                if (strcmp(argv[i], "--stop") == 0)
                        stop = argv[++i];
                else if (strcmp(argv[i], "--timeout") == 0)
                        timeout = atof(argv[++i]);
                else if (strcmp(argv[i], "--dir") == 0)
                        dir = argv[++i];
                else if (strcmp(argv[i], "--match") == 0)
                        word = argv[++i];
                else if (strcmp(argv[i], "--count") == 0)
                        count = atoi(argv[++i]);
                else if (strcmp(argv[i], "--then") == 0)
                        then = argv[++i];
                else if (strcmp(argv[i], "--signal") == 0)
                        sig = atoi(argv[++i]);
                else
                        usage();
        }
        if (i + 1 >= argc)
                usage();
        setvbuf(stdout, NULL, _IOLBF, 0);
        signal(SIGPIPE, SIG_IGN);
        if (strcmp(argv[1], "pipe") == 0)
                return cmd_pipe(argv + i + 1, stop, timeout);
        if (strcmp(argv[1], "watch") == 0 && dir && word && count > 0)
                return cmd_watch(argv + i + 1, dir, word, count, timeout, then, sig);
        usage();
}
