/* SPDX-License-Identifier: Apache-2.0 */
/* Structured logging: the journal under systemd, stderr elsewhere (see journal.h). */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "journal.h"

static int connected = -1;

bool journal_connected(void)
{
        const char *e, *mode;
        unsigned long long dev, ino;
        struct stat st;

        if (connected >= 0)
                return connected;
        mode = getenv("CVM_AGENT_LOG");
        if (mode && strcmp(mode, "stderr") == 0)
                return (connected = 0);
        if (mode && strcmp(mode, "journal") == 0)
                return (connected = 1);
        /* systemd.exec(5): $JOURNAL_STREAM is "DEV:INODE" of the stream stdout/stderr go to. */
        e = getenv("JOURNAL_STREAM");
        connected = e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
                    (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
        return connected;
}

#define MAX_IOV 16

static void add(struct iovec *iov, size_t *n, char *buf)
{
        if (buf && *n < MAX_IOV) {
                iov[*n].iov_base = buf;
                iov[*n].iov_len = strlen(buf);
                (*n)++;
        }
}

static char *field(const char *name, const char *value)
{
        char *s = NULL;

        if (!value || asprintf(&s, "%s=%s", name, value) < 0)
                return NULL;
        return s;
}

void journal_log(int priority, const struct journal_fields *f, const char *fmt, ...)
{
        int saved = errno;
        char *msg = NULL, *bufs[MAX_IOV] = {};
        struct iovec iov[MAX_IOV];
        size_t n = 0, nb = 0;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg) {
                errno = saved;
                return;
        }

        if (!journal_connected()) {
                for (char *c = msg; *c; c++)
                        if ((unsigned char)*c < 0x20)
                                *c = '?';
                if (getenv("CVM_AGENT_LOG_PREFIX"))
                        fprintf(stderr, "<%d>cvm-agent: %s\n", priority, msg);
                else
                        fprintf(stderr, "cvm-agent: %s\n", msg);
                free(msg);
                errno = saved;
                return;
        }

        bufs[nb++] = field("MESSAGE", msg);
        if (asprintf(&bufs[nb], "PRIORITY=%d", priority) >= 0)
                nb++;
        bufs[nb++] = field("SYSLOG_IDENTIFIER", "cvm-agent");
        if (f) {
                bufs[nb++] = field("MESSAGE_ID", f->message_id);
                if (f->pcr >= 0 && asprintf(&bufs[nb], "PCR=%d", f->pcr) >= 0)
                        nb++;
                bufs[nb++] = field("EXPECTED", f->expected);
                bufs[nb++] = field("ACTUAL", f->actual);
                bufs[nb++] = field("PATH", f->path);
                bufs[nb++] = field("VERIFIER", f->verifier);
                bufs[nb++] = field("CVM_FINDING_CLASS", f->finding_class);
                bufs[nb++] = field("CVM_STATE", f->state);
                bufs[nb++] = field("CVM_ACTION", f->action);
        }
        for (size_t i = 0; i < nb; i++)
                add(iov, &n, bufs[i]);
        (void)sd_journal_sendv(iov, (int)n);
        for (size_t i = 0; i < nb; i++)
                free(bufs[i]);
        free(msg);
        errno = saved;
}
