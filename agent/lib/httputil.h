/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pure helpers of the HTTP transport: Retry-After and HTTP-date parsing, media-type matching,
 * which statuses are worth retrying, and exponential backoff with full jitter from a seeded
 * generator. No I/O and no clocks: callers pass "now", so everything here is deterministic,
 * unit-testable and fuzzable (the adapter in agent/adapters/http.c does the networking).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Retry-After values above this many seconds are clamped (they never fit a deadline anyway). */
#define HTTPUTIL_RETRY_AFTER_MAX 86400u

/**
 * httputil_parse_http_date() - parse an HTTP-date (RFC 9110 §5.6.7): the preferred IMF-fixdate
 * "Sun, 06 Nov 1994 08:49:37 GMT" and the obsolete RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT")
 * and asctime ("Sun Nov  6 08:49:37 1994") forms, which recipients must accept.
 * @s: the text; @len: its length (need not be NUL-terminated).
 * @now: current time, used only to place an RFC 850 two-digit year in the right century.
 * The day name must be one of the seven but is not checked against the date (as most clients).
 * @ret: seconds since the epoch (UTC), written only on success.
 * Return: 0, or -EINVAL when the text is not an HTTP-date.
 */
int httputil_parse_http_date(const char *s, size_t len, time_t now, time_t *ret);

/**
 * httputil_parse_retry_after() - parse a Retry-After field value (RFC 9110 §10.2.3): either
 * delay-seconds (1*DIGIT) or an HTTP-date. Surrounding blanks are ignored.
 * @s, @len: the field value; @now: current wall-clock time for the HTTP-date form.
 * @ret_seconds: the delay from @now in seconds; a date in the past gives 0; large values are
 *               clamped to HTTPUTIL_RETRY_AFTER_MAX. Written only on success.
 * Return: 0, or -EINVAL when the value is neither form.
 */
int httputil_parse_retry_after(const char *s, size_t len, time_t now, uint64_t *ret_seconds);

/**
 * httputil_media_type_matches() - whether a Content-Type field value names @expected,
 * comparing type/subtype case-insensitively and ignoring parameters ("application/json;
 * charset=utf-8" matches "application/json"). A NULL @content_type never matches.
 */
bool httputil_media_type_matches(const char *content_type, const char *expected);

/**
 * httputil_status_retryable() - true for the statuses a client may retry: 408 Request
 * Timeout, 429 Too Many Requests and every 5xx. Other statuses (2xx, 3xx, other 4xx) are final.
 */
bool httputil_status_retryable(long status);

/** httputil_rand_next() - next value of a splitmix64 sequence kept in *@state (not for crypto). */
uint64_t httputil_rand_next(uint64_t *state);

/**
 * httputil_backoff_ms() - delay before retry number @retry (1 for the first retry) under
 * exponential backoff with full jitter: uniform in [0, min(@cap_ms, @base_ms * 2^(retry-1))].
 * @rng: generator state advanced by one step (seed it for reproducible sequences).
 * Return: the delay in milliseconds.
 */
uint64_t httputil_backoff_ms(unsigned retry, uint64_t base_ms, uint64_t cap_ms, uint64_t *rng);
