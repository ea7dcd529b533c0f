/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging for the daemon: structured journal entries (sd_journal_sendv) with MESSAGE_ID and
 * custom fields when stderr is connected to the journal, one plain line on stderr otherwise
 * (a terminal, a test harness). The message IDs are documented in units/cvm-agent.catalog.
 */
#pragma once

#include <stdbool.h>
#include <syslog.h>

/* Message IDs (128-bit, made once with systemd-id128 new; never change them). */
#define JOURNAL_MSGID_STARTED         "36d71053ff774701843739d480ea63dd"
#define JOURNAL_MSGID_STOPPED         "230b3f0a5efc46b394a3d70bdc1b647c"
#define JOURNAL_MSGID_PCR_CHANGED     "97633d18fe864cda820af8757985fe85"
#define JOURNAL_MSGID_EVENTLOG        "864f1d9511f94709aea5efb3bd730e4d"
#define JOURNAL_MSGID_IMA             "e78f190ab2f04658ab4226a0f8700bf4"
#define JOURNAL_MSGID_QUOTE           "1fb17f6e57f14a459ee3ac74630ac17d"
#define JOURNAL_MSGID_SNP             "636bb9a9ac4a41ae90e591688def2749"
#define JOURNAL_MSGID_ATTESTATION     "5897c005ef4b4b63aa9d7ef4c42c39b4"
#define JOURNAL_MSGID_UNAVAILABLE     "c7703d4bf51849d2b714078879413b6c"
#define JOURNAL_MSGID_CLEARED         "b4dfd45d34184e5fadb30502d0de8525"
#define JOURNAL_MSGID_REACTION        "3b2cfe2737c243e68f056dd1e21e2d28"
#define JOURNAL_MSGID_REACTION_FAILED "c030dd9ff0ec45da90f7a6a913d78c19"

/* Optional structured fields of one entry; NULL / -1 members are left out. */
struct journal_fields {
        const char *message_id;
        int pcr;
        const char *expected, *actual, *path, *verifier;
        const char *finding_class; /* CVM_FINDING_CLASS= */
        const char *state;         /* CVM_STATE= */
        const char *action;        /* CVM_ACTION= */
};

/**
 * journal_connected() - true when stderr is the journal stream systemd set up for this process
 * ($JOURNAL_STREAM names stderr's device:inode), so entries go to sd_journal_sendv(). Evaluated
 * once; $CVM_AGENT_LOG=stderr forces the fallback, $CVM_AGENT_LOG=journal the journal.
 */
bool journal_connected(void);

/**
 * journal_log() - log @fmt at syslog @priority with @fields (may be NULL). In the journal:
 * MESSAGE, PRIORITY, SYSLOG_IDENTIFIER=cvm-agent and the fields (PCR, EXPECTED, ACTUAL, PATH,
 * VERIFIER, MESSAGE_ID, CVM_*). On stderr: "cvm-agent: <message>" on one line (control characters
 * replaced), prefixed with "<N>" when $CVM_AGENT_LOG_PREFIX is set. Never fails; errno kept.
 */
void journal_log(int priority, const struct journal_fields *fields, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
