/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Global configuration of cvm-agent: /etc/cvm-agent/cvm-agent.conf plus drop-ins in
 * /etc/cvm-agent/cvm-agent.conf.d/\*.conf, systemd-style INI.
 *
 * Syntax: "[Section]" headers, "Key=Value" assignments, comment lines starting with '#' or ';',
 * blank lines. Whitespace around section names, keys and values is removed; there is no quoting,
 * no escape and no inline comment: the value is the rest of the line. Keys and section names
 * are case-sensitive. An empty value ("Key=") resets the setting to its built-in default. A key
 * assigned again (later in the same file or in a later drop-in) replaces the earlier value.
 *
 * Strictness, unlike systemd (which warns and ignores): an unknown section, an unknown key in
 * a known section or a value that does not parse is an error naming FILE:LINE. A security agent
 * must not silently run with the default of a misspelt "PolicyMode=". Sections and keys starting
 * with "X-" are ignored, so sites can keep their own annotations; a setting introduced by a newer
 * cvm-agent is an error for an older one (documented in cvm-agent.conf(5)).
 *
 * Limits: a file is at most CONFIG_MAX_FILE_SIZE bytes, a line at most CONFIG_MAX_LINE bytes,
 * a drop-in directory at most CONFIG_MAX_DROPINS files. The file may not contain NUL or control
 * characters other than tab (a CR before LF is tolerated).
 *
 * The module is pure: it reads files (config_load) but logs nothing; every failure comes back
 * as a negative errno with a struct cvm_error message "FILE:LINE: ...".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define CONFIG_MAX_FILE_SIZE (64u * 1024u)
#define CONFIG_MAX_LINE      4096u
#define CONFIG_MAX_DROPINS   128u
#define CONFIG_MAX_VALUE     1024u /* a string or path value, in bytes */

#define USEC_PER_MSEC        1000ull
#define USEC_PER_SEC         1000000ull

/* Every known setting, in the order `cvm-agent config` shows them (grouped by section); add new
 * ones to the schema table too. */
enum config_key {
        CONFIG_TPM_TCTI,
        CONFIG_TPM_EVENT_LOG,
        CONFIG_UNLOCK_DEADLINE,
        CONFIG_UNLOCK_PCR_EXTEND,
        CONFIG_UNLOCK_LOCAL_POLICY,
        CONFIG_UNLOCK_POLICY_MODE,
        CONFIG_NETWORK_CA_FILE,
        CONFIG_NETWORK_CONNECT_TIMEOUT,
        CONFIG_AZURE_IMDS,
        CONFIG_AZURE_RELEASE_ROOTS,
        CONFIG_AZURE_VAULT_HOSTS,
        CONFIG_MONITOR_INTERVAL,
        CONFIG_MONITOR_JITTER,
        CONFIG_MONITOR_STATE_DIRECTORY,
        CONFIG_MONITOR_REATTEST_INTERVAL,
        CONFIG_MONITOR_IMA,
        _CONFIG_KEY_MAX,
};

enum config_type {
        CONFIG_TYPE_STRING,   /* printable text, at most CONFIG_MAX_VALUE bytes */
        CONFIG_TYPE_PATH,     /* an absolute, normalised-enough path (no "..", no "//") */
        CONFIG_TYPE_BOOL,     /* yes/no, true/false, on/off, 1/0 (any case) */
        CONFIG_TYPE_UINT,     /* decimal, within [min, max] */
        CONFIG_TYPE_DURATION, /* "90", "30s", "2min", "500ms", "1h 30min"; [min, max] in microseconds */
        CONFIG_TYPE_ENUM,     /* one of choices[] */
};

/* One row of the schema: where a setting lives, its type, its default and its bounds. */
struct config_schema {
        const char *section;
        const char *key;
        enum config_type type;
        const char *default_value;  /* canonical text; NULL: unset by default */
        uint64_t min, max;          /* UINT: value range; DURATION: range in microseconds */
        const char *const *choices; /* ENUM: NULL-terminated list of accepted values */
        const char *description;    /* one line for `cvm-agent config` */
};

struct config;

/**
 * config_schema() - the schema row of @key (which must be < _CONFIG_KEY_MAX). Never NULL.
 */
const struct config_schema *config_schema(enum config_key key);

/**
 * config_lookup() - find a setting by section and key name (case-sensitive).
 * Return: 0 with *@ret set, -ENOENT when the section is unknown, -ENOKEY when the section is
 * known but the key is not.
 */
int config_lookup(const char *section, const char *key, enum config_key *ret);

/**
 * config_new() - a configuration holding every built-in default (source "default").
 * Return: 0 or -ENOMEM. Free with config_free().
 */
int config_new(struct config **ret);

/** config_free() - free @c; NULL is fine. */
void config_free(struct config *c);

/**
 * config_parse() - apply the settings in @text (@size bytes, need not be NUL-terminated) to @c.
 * @name: the file name used in error messages and as the source of each value ("NAME:LINE").
 * @err: receives "NAME:LINE: what is wrong"; may be NULL.
 *
 * Return: 0; -EFBIG for a text above CONFIG_MAX_FILE_SIZE; -EBADMSG for a syntax error, an
 * unknown section or key, or a value that does not parse or is out of range; -ENOMEM. On
 * failure @c may hold some of the text's settings: discard it.
 */
int config_parse(struct config *c, const char *name, const char *text, size_t size, struct cvm_error *err);

/**
 * config_load() - parse @path, then every "*.conf" regular file (hidden files excluded) of the
 * directory "@path.d" in strcmp() order of their names, each overriding what came before.
 * @missing_ok: a missing @path is not an error (the drop-ins still apply). A missing drop-in
 *              directory is never an error.
 *
 * Return: 0; -ENOENT (@path missing and !@missing_ok), -EACCES, -EISDIR, -EIO, -EFBIG, -E2BIG
 * (more than CONFIG_MAX_DROPINS drop-ins), or any config_parse() error; @err names the file.
 */
int config_load(struct config *c, const char *path, bool missing_ok, struct cvm_error *err);

/**
 * config_set() - assign @value to @key as if read from a file, with @source recorded as its
 * origin (e.g. "environment CVM_AGENT_TCTI", "option --tcti"). The value is validated exactly
 * as in a file; "" resets the default (and records @source).
 * Return: 0, -EBADMSG (@err: "KEY: ..."), -ENOMEM.
 */
int config_set(struct config *c, enum config_key key, const char *value, const char *source,
               struct cvm_error *err);

/*
 * Typed getters. @key must have the matching type (asserted). The returned strings stay valid
 * until @c is freed or the setting is assigned again.
 */

/** config_get_string() - STRING, PATH or ENUM value, or NULL when the setting is unset. */
const char *config_get_string(const struct config *c, enum config_key key);
/** config_get_bool() - BOOL value. */
bool config_get_bool(const struct config *c, enum config_key key);
/** config_get_uint() - UINT value. */
uint64_t config_get_uint(const struct config *c, enum config_key key);
/** config_get_usec() - DURATION value in microseconds. */
uint64_t config_get_usec(const struct config *c, enum config_key key);

/**
 * config_get_text() - the effective value of any setting as canonical text (durations formatted
 * by config_format_duration(), booleans as "yes"/"no"), or NULL when unset.
 */
const char *config_get_text(const struct config *c, enum config_key key);

/** config_get_source() - "default", "FILE:LINE" or the source given to config_set(). Never NULL. */
const char *config_get_source(const struct config *c, enum config_key key);

/**
 * config_n_files() / config_file() - the names of the files config_parse() applied to @c, in
 * order (for `cvm-agent config`); config_file() returns NULL for @i >= config_n_files().
 */
size_t config_n_files(const struct config *c);
const char *config_file(const struct config *c, size_t i);

/* Value parsers, shared with the command line. */

/**
 * config_parse_bool() - "1", "yes", "y", "true", "t", "on" / "0", "no", "n", "false", "f", "off",
 * case-insensitive. Return: 0 or -EINVAL.
 */
int config_parse_bool(const char *s, bool *ret);

/**
 * config_parse_uint() - a decimal integer without sign, leading zeros or whitespace, in
 * [@min, @max]. Return: 0, -EINVAL (not a number), -ERANGE (outside the range or 64 bits).
 */
int config_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/**
 * config_parse_duration() - a duration in microseconds: a bare number of seconds ("90"), or one
 * or more NUMBER UNIT terms, optionally separated by spaces ("1h 30min", "2min30s"), with the
 * units us/usec, ms/msec, s/sec/second/seconds, m/min/minute/minutes, h/hr/hour/hours,
 * d/day/days. Integers only. Return: 0, -EINVAL (syntax), -ERANGE (overflows 64 bits).
 */
int config_parse_duration(const char *s, uint64_t *ret_usec);

/**
 * config_format_duration() - @usec as the shortest exact text config_parse_duration() reads back
 * ("0", "500ms", "1min 30s", "1h"), into @buf of @size bytes (truncated safely; 64 is ample).
 */
void config_format_duration(uint64_t usec, char *buf, size_t size);
