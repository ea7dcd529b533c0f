/* SPDX-License-Identifier: Apache-2.0 */
/* Closing LUKS volumes for the monitor's close: reaction (see volume.h). */
#include <dirent.h>
#include <errno.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <libcryptsetup.h>

#include "cleanup.h"
#include "monitor.h"
#include "volume.h"

static int push_name(char ***v, size_t *n, const char *s)
{
        char **nv;

        for (size_t i = 0; i < *n; i++)
                if (strcmp((*v)[i], s) == 0)
                        return 0;
        nv = realloc(*v, (*n + 2) * sizeof(char *));
        if (!nv)
                return -ENOMEM;
        *v = nv;
        nv[*n] = strdup(s);
        if (!nv[*n])
                return -ENOMEM;
        nv[++*n] = NULL;
        return 0;
}

/* The dm name of block device "MAJ:MIN" (sysfs form) and of every dm device below it. */
static int collect_dm(const char *devno, char ***v, size_t *n, unsigned depth)
{
        char path[300], name[256];
        _cleanup_(fclosep) FILE *f = NULL;
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (depth > 8)
                return 0;
        snprintf(path, sizeof(path), "/sys/dev/block/%s/dm/name", devno);
        f = fopen(path, "re");
        if (f && fgets(name, sizeof(name), f)) {
                name[strcspn(name, "\n")] = 0;
                r = push_name(v, n, name);
                if (r < 0)
                        return r;
        }
        snprintf(path, sizeof(path), "/sys/dev/block/%s/slaves", devno);
        d = opendir(path);
        if (!d)
                return 0;
        while (r >= 0 && (de = readdir(d))) {
                char dev[600], buf[32];
                _cleanup_(fclosep) FILE *g = NULL;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(dev, sizeof(dev), "%s/%s/dev", path, de->d_name);
                g = fopen(dev, "re");
                if (g && fgets(buf, sizeof(buf), g)) {
                        buf[strcspn(buf, "\n")] = 0;
                        r = collect_dm(buf, v, n, depth + 1);
                }
        }
        closedir(d);
        return r;
}

static int collect_path(const char *source, char ***v, size_t *n)
{
        struct stat st;
        char devno[32];

        if (stat(source, &st) < 0 || !S_ISBLK(st.st_mode))
                return 0;
        snprintf(devno, sizeof(devno), "%u:%u", major(st.st_rdev), minor(st.st_rdev));
        return collect_dm(devno, v, n, 0);
}

int volume_protected_names(char ***ret)
{
        char **v = calloc(1, sizeof(char *));
        size_t n = 0;
        FILE *f;
        struct mntent *m;
        int r = 0;

        if (!v)
                return -ENOMEM;
        f = setmntent("/proc/self/mounts", "re");
        while (f && r >= 0 && (m = getmntent(f)))
                if (strcmp(m->mnt_dir, "/") == 0 || strcmp(m->mnt_dir, "/usr") == 0)
                        r = collect_path(m->mnt_fsname, &v, &n);
        if (f)
                endmntent(f);
        f = fopen("/proc/swaps", "re");
        if (f) {
                char line[512];

                while (r >= 0 && fgets(line, sizeof(line), f)) {
                        line[strcspn(line, " \t\n")] = 0;
                        if (line[0] == '/')
                                r = collect_path(line, &v, &n);
                }
                fclose(f);
        }
        if (r < 0) {
                monitor_strv_free(v);
                return r;
        }
        *ret = v;
        return 0;
}

int volume_close(const char *name, struct cvm_error *err)
{
        struct crypt_device *cd = NULL;
        int r;

        r = crypt_init_by_name(&cd, name);
        if (r < 0)
                return cvm_error_set(err, r == -ENODEV ? -ENODEV : r, "%s: no such active volume", name);
        r = crypt_deactivate(cd, name);
        crypt_free(cd);
        if (r < 0)
                return cvm_error_set(err, r, "%s: cannot close: %s", name, strerror(-r));
        return 0;
}
