/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-only LD_PRELOAD shim: the one configfs-tsm behaviour a plain directory cannot have. In
 * configfs, mkdir report/<name> makes the kernel create the entry's attributes at once, and
 * rmdir removes them with the entry. For a directory directly under $CVM_TSM_ROOT this mkdir()
 * wrapper creates them: inblob, outblob and auxblob as FIFOs (tests/emulators/tsm.py plays the
 * TSM on the other end: it reads inblob, bumps generation, writes outblob and auxblob), provider
 * ($CVM_TSM_PROVIDER, default sev_guest), generation 0 and privlevel_floor 0; rmdir() removes
 * them again. Everything else the agent does there is ordinary file I/O on the real files.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const fifos[] = {"inblob", "outblob", "auxblob"};
static const char *const files[] = {"provider", "generation", "privlevel_floor", "generation.tmp"};

/* True when @path is ROOT/<name> (one component, no further slash). */
static int in_root(const char *path)
{
        const char *root = getenv("CVM_TSM_ROOT");
        size_t n;

        if (!root || !*root)
                return 0;
        n = strlen(root);
        return strncmp(path, root, n) == 0 && path[n] == '/' && path[n + 1] && !strchr(path + n + 1, '/');
}

static int put(const char *dir, const char *name, const char *text)
{
        char p[4096];
        int fd;

        if (snprintf(p, sizeof(p), "%s/%s", dir, name) >= (int)sizeof(p))
                return -1;
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -1;
        if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
                close(fd);
                return -1;
        }
        return close(fd);
}

int mkdir(const char *path, mode_t mode)
{
        static int (*real)(const char *, mode_t);
        const char *provider = getenv("CVM_TSM_PROVIDER");
        char p[4096];
        int r;

        if (!real)
                real = (int (*)(const char *, mode_t))dlsym(RTLD_NEXT, "mkdir");
        r = real(path, mode);
        if (r < 0 || !in_root(path))
                return r;
        for (size_t i = 0; i < sizeof(fifos) / sizeof(fifos[0]); i++)
                if (snprintf(p, sizeof(p), "%s/%s", path, fifos[i]) >= (int)sizeof(p) || mkfifo(p, 0600) < 0)
                        return -1;
        if (put(path, "provider", provider && *provider ? provider : "sev_guest\n") < 0 ||
            put(path, "privlevel_floor", "0\n") < 0 || put(path, "generation", "0\n") < 0)
                return -1;
        return 0;
}

int rmdir(const char *path)
{
        static int (*real)(const char *);
        char p[4096];

        if (!real)
                real = (int (*)(const char *))dlsym(RTLD_NEXT, "rmdir");
        if (in_root(path)) {
                for (size_t i = 0; i < sizeof(fifos) / sizeof(fifos[0]); i++)
                        if (snprintf(p, sizeof(p), "%s/%s", path, fifos[i]) < (int)sizeof(p))
                                (void)unlink(p);
                for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
                        if (snprintf(p, sizeof(p), "%s/%s", path, files[i]) < (int)sizeof(p))
                                (void)unlink(p);
        }
        return real(path);
}
