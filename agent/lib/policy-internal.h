/* SPDX-License-Identifier: Apache-2.0 */
/* Compiled form of a policy, shared by policy.c (parse), policy-appraise.c and policy-ima.c. */
#pragma once

#include <openssl/evp.h>

#include "policy.h"

#define POLICY_PATH_MAX 1024

/* A JSON path being built while walking the document: "$.pcrs.sha256[\"7\"].events[3]". */
struct jpath {
        char buf[POLICY_PATH_MAX];
        size_t len;
};

void jpath_init(struct jpath *p);
size_t jpath_push_key(struct jpath *p, const char *key);
size_t jpath_push_index(struct jpath *p, size_t i);
void jpath_pop(struct jpath *p, size_t saved);

struct hexlist {
        size_t n;
        size_t size; /* bytes per entry */
        uint8_t *v;
};

bool hexlist_contains(const struct hexlist *l, const uint8_t *d);

struct rule {
        char *path;
        uint32_t type;
        struct hexlist digests; /* may be empty when data_prefix is set */
        char *data_prefix;      /* NULL: none */
        size_t data_prefix_len;
        bool optional, repeat;
        const char *label; /* borrowed from the document; may be NULL */
        const char *class; /* borrowed; may be NULL */
};

struct pcr_policy {
        bool present;
        char *path;
        bool has_events;
        bool order_any;
        size_t n_rules;
        struct rule *rules;
        struct hexlist values;
};

struct bank_policy {
        const struct hash_alg *alg;
        char *path;
        struct pcr_policy pcrs[EVENTLOG_MAX_PCRS];
};

enum { TCB_BOOTLOADER, TCB_TEE, TCB_SNP, TCB_MICROCODE, TCB_FMC, _TCB_MAX };
extern const char *const policy_tcb_names[_TCB_MAX];

struct snp_policy {
        bool present;
        struct hexlist measurements, id_key_digests, author_key_digests, family_ids, image_ids, host_data;
        bool has_min_tcb, has_min_launch_tcb;
        int min_tcb[_TCB_MAX], min_launch_tcb[_TCB_MAX]; /* -1: not constrained */
        bool allow_debug, allow_migration_agent;
        int64_t vmpl, min_guest_svn; /* -1: not constrained */
        bool has_policy_mask;
        uint64_t policy_mask, policy_value;
        unsigned signing_keys; /* bit 0 VCEK, bit 1 VLEK; 0: any */
};

struct ima_pair {
        const char *path; /* borrowed */
        char *digest;     /* "sha256:hex", lowercase */
};

struct ima_key {
        EVP_PKEY *pkey;
        uint8_t keyids[2][4];
        size_t n_keyids;
        char *path;
};

struct ima_policy {
        bool present;
        size_t n_files;
        struct ima_pair *files; /* sorted by path, then digest */
        size_t n_digests;
        char **digests; /* sorted */
        size_t n_exclude;
        const char **exclude; /* borrowed */
        size_t n_keys;
        struct ima_key *keys;
        bool allow_violations;
};

struct policy {
        json_object *doc;
        size_t n_banks;
        struct bank_policy banks[EVENTLOG_MAX_BANKS];
        bool has_eventlog_section;
        bool require_secure_boot;
        bool allow_data_mismatch;
        int startup_locality; /* -1: not constrained */
        struct snp_policy snp;
        struct ima_policy ima;
};

/* policy.c */
int policy_event_type_from_name(const char *s, uint32_t *ret);
int policy_digest_string_normalize(const char *s, char **ret); /* "SHA256:AB.." -> "sha256:ab.." */
bool policy_ima_is_excluded(const struct ima_policy *ima, const char *path);
const struct ima_pair *policy_ima_find_path(const struct ima_policy *ima, const char *path, size_t *ret_n);
bool policy_ima_digest_allowed(const struct ima_policy *ima, const char *digest);
