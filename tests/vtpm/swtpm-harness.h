/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A throw-away swtpm for C tests: started on a free loopback port with its state in a fresh
 * temporary directory, killed (and its directory removed) by swtpm_harness_stop(). The child
 * gets PR_SET_PDEATHSIG, so even a crashing test leaves no swtpm behind.
 */
#pragma once

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct swtpm_harness {
        pid_t pid;
        int port;
        char dir[256];
        char tcti[64];
};

/* True when an executable "swtpm" is on $PATH. */
static inline bool swtpm_harness_available(void)
{
        const char *path = getenv("PATH");
        char buf[4096];

        if (!path)
                return false;
        while (*path) {
                size_t n = strcspn(path, ":");

                snprintf(buf, sizeof(buf), "%.*s/swtpm", (int)n, path);
                if (access(buf, X_OK) == 0)
                        return true;
                path += n;
                if (*path == ':')
                        path++;
        }
        return false;
}

static inline int swtpm_harness_rm(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(p) < 0 ? -1 : 0;
}

static inline void swtpm_harness_stop(struct swtpm_harness *s)
{
        if (s->pid > 0) {
                (void)kill(s->pid, SIGTERM);
                while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                s->pid = 0;
        }
        if (s->dir[0]) {
                (void)nftw(s->dir, swtpm_harness_rm, 16, FTW_DEPTH | FTW_PHYS);
                s->dir[0] = '\0';
        }
}

static inline pid_t swtpm_harness_spawn(struct swtpm_harness *s, int port)
{
        char server[96], ctrl[96], state[320], pidf[320];
        pid_t parent = getpid(), pid;

        snprintf(server, sizeof(server), "type=tcp,port=%d,bindaddr=127.0.0.1", port);
        snprintf(ctrl, sizeof(ctrl), "type=tcp,port=%d,bindaddr=127.0.0.1", port + 1);
        snprintf(state, sizeof(state), "dir=%s", s->dir);
        snprintf(pidf, sizeof(pidf), "file=%s/swtpm.pid", s->dir);

        pid = fork();
        if (pid != 0)
                return pid;
        /* child: die with the test process */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(127);
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
                dup2(fd, 0);
                dup2(fd, 1);
                dup2(fd, 2);
        }
        execlp("swtpm", "swtpm", "socket", "--tpm2", "--server", server, "--ctrl", ctrl, "--tpmstate", state,
               "--flags", "not-need-init,startup-clear", "--pid", pidf, (char *)NULL);
        _exit(127);
}

/*
 * Start swtpm. Return: 0 with s->tcti set; -ENOENT when swtpm is not installed; -EIO when no
 * instance came up on any of 20 random ports.
 */
static inline int swtpm_harness_start(struct swtpm_harness *s)
{
        char pidfile[300];

        memset(s, 0, sizeof(*s));
        if (!swtpm_harness_available())
                return -ENOENT;
        snprintf(s->dir, sizeof(s->dir), "%s/cvm-swtpm-XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(s->dir)) {
                s->dir[0] = '\0';
                return -errno;
        }
        snprintf(pidfile, sizeof(pidfile), "%s/swtpm.pid", s->dir);

        for (int attempt = 0; attempt < 20; attempt++) {
                uint16_t rnd = 0;
                int port;

                if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
                        rnd = (uint16_t)(getpid() + attempt * 7919);
                port = 20000 + (rnd % 20000) * 2;
                (void)unlink(pidfile);
                s->pid = swtpm_harness_spawn(s, port);
                if (s->pid < 0) {
                        s->pid = 0;
                        break;
                }
                /* swtpm writes its pid file once both sockets listen; it exits if a port is taken. */
                for (int i = 0; i < 250; i++) {
                        struct timespec ts = {.tv_nsec = 20 * 1000 * 1000};
                        struct stat st;

                        if (stat(pidfile, &st) == 0 && st.st_size > 0) {
                                s->port = port;
                                snprintf(s->tcti, sizeof(s->tcti), "swtpm:host=127.0.0.1,port=%d", port);
                                return 0;
                        }
                        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
                                s->pid = 0;
                                break;
                        }
                        nanosleep(&ts, NULL);
                }
                if (s->pid > 0) {
                        (void)kill(s->pid, SIGKILL);
                        (void)waitpid(s->pid, NULL, 0);
                        s->pid = 0;
                }
        }
        swtpm_harness_stop(s);
        return -EIO;
}
