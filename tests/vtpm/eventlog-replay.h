/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replays a TCG event log into a TPM (test tool helper): every extended event's digests are
 * handed to a callback, in log order, so that the TPM's PCRs end up equal to the log's replay.
 * Parsing is done by the agent's eventlog module (agent/lib/eventlog.h); this file only walks it.
 */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "util.h"

typedef int (*replay_extend_fn)(void *userdata, unsigned pcr, size_t n, const uint16_t *algs,
                                const uint8_t *const *digests);

#if __has_include("eventlog.h")
#include "eventlog.h"

/* Return: 0 (with the number of extended events), negative errno with @err set. */
static inline int eventlog_replay_file(const char *path, replay_extend_fn extend, void *userdata,
                                       size_t *ret_events, struct cvm_error *err)
{
        struct eventlog *log = NULL;
        struct eventlog_pcrs pcrs;
        uint8_t *buf = NULL;
        size_t size, events = 0;
        int r;

        r = read_file(path, EVENTLOG_MAX_SIZE, &buf, &size, err);
        if (r < 0)
                return r;
        r = eventlog_parse(buf, size, &log, err);
        free(buf);
        if (r < 0)
                return r;
        r = eventlog_replay(log, 0, &pcrs, err);
        if (r >= 0 && pcrs.startup_locality > 0)
                r = cvm_error_set(
                        err, -EOPNOTSUPP,
                        "the log starts PCR 0 at locality %d; swtpm's PCR 0 cannot be made to match "
                        "by extends",
                        pcrs.startup_locality);
        for (size_t i = 0; r >= 0 && i < log->n_events; i++) {
                const struct eventlog_event *ev = &log->events[i];
                uint16_t algs[EVENTLOG_MAX_BANKS];
                const uint8_t *digests[EVENTLOG_MAX_BANKS];
                size_t n = 0;

                if (!eventlog_event_is_extended(ev))
                        continue;
                for (size_t b = 0; b < log->n_banks; b++) {
                        if (!ev->digests[b] || !log->banks[b].alg)
                                continue;
                        algs[n] = log->banks[b].alg_id;
                        digests[n] = ev->digests[b];
                        n++;
                }
                if (n == 0)
                        continue;
                r = extend(userdata, ev->pcr, n, algs, digests);
                if (r < 0)
                        r = cvm_error_set(err, r, "extending event %u (PCR %u) failed", ev->number, ev->pcr);
                else
                        events++;
        }
        eventlog_free(log);
        if (r < 0)
                return r;
        *ret_events = events;
        return 0;
}
#else
static inline int eventlog_replay_file(const char *path, replay_extend_fn extend, void *userdata,
                                       size_t *ret_events, struct cvm_error *err)
{
        (void)path;
        (void)extend;
        (void)userdata;
        (void)ret_events;
        return cvm_error_set(err, -EOPNOTSUPP, "this build has no event log parser (agent/lib/eventlog.h)");
}
#endif
