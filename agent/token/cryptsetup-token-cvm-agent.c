/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcryptsetup-token-cvm-agent.so: the LUKS2 external token plugin for type "cvm-agent"
 * (conventions.md §1.1), so `cryptsetup open --token-only` and systemd-cryptsetup can use our
 * token. Only the six ABI functions live here; the work is shared with `cvm-agent unlock`.
 *
 * open(): the token is parsed; the header is read from the metadata device and validated with
 * the same strict allowlist as the CLI; libcryptsetup's own loaded copy of the metadata (the
 * one it will activate with, crypt_dump_json()) must be identical to the validated one, so a
 * header swapped between libcryptsetup's load and our read is refused; then the key flow of
 * unlock.h runs with the same attestation backends as `cvm-agent unlock` (unlock-ops.h: Azure
 * MAA + Key Vault, Trustee KBS), configured from cvm-agent.conf(5) ($CVM_AGENT_CONFIG overrides
 * the path, $CVM_AGENT_TCTI the TCTI, as for the CLI).
 *
 * Before any network traffic the local guards run: a rescue/emergency boot or a PCR [Unlock]
 * PCRExtend= that left its initial state refuses (-ENOENT: "not usable now"). The plugin does not
 * measure the volume (it cannot know whether the activation that follows succeeds, and every
 * volume is a separate process): use crypttab's tpm2-measure-pcr= or `cvm-agent unlock`, which
 * measures. [Unlock] LocalPolicy= is appraised by `cvm-agent unlock` only.
 *
 * Return codes, chosen so cryptsetup and systemd-cryptsetup fall back to the passphrase prompt:
 * -EAGAIN the verifier or key broker refused or could not be reached (service absent);
 * -EPERM the released key does not unwrap this token's secret; -ENOENT a rejected header, a
 * token that is not ours or not enrolled, a refusing local guard or an unusable configuration.
 *
 * Logging only through crypt_logf(): reasons for a refusal at CRYPT_LOG_NORMAL (systemd-cryptsetup
 * logs them at info; cryptsetup 2.6 drops CRYPT_LOG_ERROR from token handlers), the rest at
 * CRYPT_LOG_DEBUG; never a secret. No global state, no stdout, no exit(); usrptr is ignored.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libcryptsetup.h>
#include <openssl/crypto.h>

#include "cleanup.h"
#include "config.h"
#include "luks.h"
#include "lukstoken.h"
#include "unlock-ops.h"
#include "unlock.h"

#define EXPORT         __attribute__((visibility("default")))
#define DEFAULT_CONFIG CVM_AGENT_SYSCONFDIR "/cvm-agent/cvm-agent.conf"

EXPORT const char *cryptsetup_token_version(void);
EXPORT int cryptsetup_token_validate(struct crypt_device *cd, const char *json);
EXPORT void cryptsetup_token_dump(struct crypt_device *cd, const char *json);
EXPORT int cryptsetup_token_open_pin(struct crypt_device *cd, int token, const char *pin, size_t pin_size,
                                     char **buffer, size_t *buffer_len, void *usrptr);
EXPORT int cryptsetup_token_open(struct crypt_device *cd, int token, char **buffer, size_t *buffer_len,
                                 void *usrptr);
EXPORT void cryptsetup_token_buffer_free(void *buffer, size_t buffer_len);

const char *cryptsetup_token_version(void)
{
        return "1.0 cvm-agent " CVM_AGENT_VERSION;
}

int cryptsetup_token_validate(struct crypt_device *cd, const char *json)
{
        _cleanup_(lukstoken_freep) struct lukstoken *t = NULL;
        struct cvm_error err = {};
        int r;

        r = lukstoken_parse_text(json, &t, &err);
        if (r < 0) {
                crypt_logf(cd, CRYPT_LOG_DEBUG, "cvm-agent token rejected: %s", cvm_error_message(&err, r));
                return 1;
        }
        return 0;
}

void cryptsetup_token_dump(struct crypt_device *cd, const char *json)
{
        _cleanup_(lukstoken_freep) struct lukstoken *t = NULL;
        struct cvm_error err = {};
        int r;

        r = lukstoken_parse_text(json, &t, &err);
        if (r < 0) {
                crypt_logf(cd, CRYPT_LOG_NORMAL, "\tinvalid:    %s\n", cvm_error_message(&err, r));
                return;
        }
        crypt_logf(cd, CRYPT_LOG_NORMAL, "\tversion:    %d\n", t->version);
        if (t->pending) {
                crypt_logf(cd, CRYPT_LOG_NORMAL, "\tstate:      pending (keyslot %d)\n", t->pending_keyslot);
                return;
        }
        crypt_logf(cd, CRYPT_LOG_NORMAL, "\tbackend:    %s\n", lukstoken_backend_name(t->backend));
        if (t->backend == LUKSTOKEN_BACKEND_AZURE) {
                crypt_logf(cd, CRYPT_LOG_NORMAL, "\tmaa_url:    %s\n", t->maa_url);
                crypt_logf(cd, CRYPT_LOG_NORMAL, "\tkey_id:     %s\n", t->key_id);
                crypt_logf(cd, CRYPT_LOG_NORMAL, "\tenc:        %s\n", t->enc);
        } else {
                crypt_logf(cd, CRYPT_LOG_NORMAL, "\tkbs_url:    %s\n", t->kbs_url);
                crypt_logf(cd, CRYPT_LOG_NORMAL, "\tresource:   %s\n", t->resource_path);
                crypt_logf(cd, CRYPT_LOG_NORMAL, "\tkbs_ca:     %s\n", t->kbs_ca ? "yes" : "system store");
        }
        crypt_logf(cd, CRYPT_LOG_NORMAL, "\twrap:       %s\n", lukstoken_wrap_alg_name(t->wrap.alg));
}

/* The header as validated by us must be the one libcryptsetup loaded and will activate. */
static int validate_loaded_header(struct crypt_device *cd, struct luks2hdr **ret)
{
        _cleanup_(luks2hdr_freep) struct luks2hdr *h = NULL;
        _cleanup_(json_object_putp) json_object *loaded = NULL;
        struct cvm_error err = {};
        const char *device = crypt_get_metadata_device_name(cd), *json = NULL;
        int r;

        /* Without a detached header the metadata lives on the data device. */
        if (!device)
                device = crypt_get_device_name(cd);

        if (!device)
                return -ENOENT;
        r = luks_read_header(device, &h, &err);
        if (r < 0) {
                crypt_logf(cd, CRYPT_LOG_DEBUG, "cvm-agent: %s: header rejected: %s", device,
                           cvm_error_message(&err, r));
                return -ENOENT;
        }
        r = crypt_dump_json(cd, &json, 0);
        if (r < 0 || !json || !(loaded = json_tokener_parse(json)) || !json_object_equal(loaded, h->root)) {
                crypt_logf(cd, CRYPT_LOG_DEBUG,
                           "cvm-agent: %s: the loaded metadata differs from the validated header", device);
                return -ENOENT;
        }
        *ret = TAKE_PTR(h);
        return 0;
}

/* The settings `cvm-agent unlock` would use: the configuration file, then $CVM_AGENT_TCTI. */
static int load_config(struct crypt_device *cd, struct config **ret)
{
        struct config *c = NULL;
        struct cvm_error err = {};
        const char *path = getenv("CVM_AGENT_CONFIG"), *tcti = getenv("CVM_AGENT_TCTI");
        int r;

        r = config_new(&c);
        if (r >= 0)
                r = config_load(c, path && *path ? path : DEFAULT_CONFIG, !(path && *path), &err);
        if (r >= 0 && tcti && *tcti)
                r = config_set(c, CONFIG_TPM_TCTI, tcti, "environment CVM_AGENT_TCTI", &err);
        if (r < 0) {
                crypt_logf(cd, CRYPT_LOG_NORMAL, "cvm-agent: configuration: %s\n",
                           cvm_error_message(&err, r));
                config_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

int cryptsetup_token_open_pin(struct crypt_device *cd, int token, const char *pin, size_t pin_size,
                              char **buffer, size_t *buffer_len, void *usrptr)
{
        _cleanup_(luks2hdr_freep) struct luks2hdr *h = NULL;
        struct config *cfg = NULL;
        struct unlock_ops ops = {};
        struct unlock_ctx u = {.backends = unlock_ops_backends, .userdata = &ops};
        struct cvm_error err = {};
        uint8_t secret[LUKSTOKEN_SECRET_SIZE];
        char why[128];
        unsigned pcr;
        char *pass;
        int r;

        (void)usrptr;
        (void)pin_size;
        if (pin)
                return -ENOENT; /* no PIN support */
        r = validate_loaded_header(cd, &h);
        if (r < 0)
                return r;
        if (token < 0 || token >= LUKS2HDR_MAX_OBJECTS || !h->tokens[token].cvm ||
            h->tokens[token].cvm->pending) {
                crypt_logf(cd, CRYPT_LOG_DEBUG, "cvm-agent: token %d is not an enrolled cvm-agent token",
                           token);
                return -ENOENT;
        }
        if (unlock_ops_rescue_boot(getenv("CVM_AGENT_PROC_CMDLINE"), why, sizeof(why))) {
                crypt_logf(cd, CRYPT_LOG_NORMAL,
                           "cvm-agent: no automatic unlock in a rescue or emergency boot (%s)\n", why);
                return -ENOENT;
        }
        if (load_config(cd, &cfg) < 0)
                return -ENOENT;
        ops.settings = (struct unlock_ops_settings){
                .tcti = config_get_string(cfg, CONFIG_TPM_TCTI),
                .ca_file = config_get_string(cfg, CONFIG_NETWORK_CA_FILE),
                .kv_root = config_get_string(cfg, CONFIG_AZURE_RELEASE_ROOTS),
                .eventlog = config_get_string(cfg, CONFIG_TPM_EVENT_LOG),
                .imds = config_get_string(cfg, CONFIG_AZURE_IMDS),
                .vault_hosts = config_get_string(cfg, CONFIG_AZURE_VAULT_HOSTS),
        };
        pcr = (unsigned)config_get_uint(cfg, CONFIG_UNLOCK_PCR_EXTEND);
        u.deadline_usec = unlock_now_usec() + config_get_usec(cfg, CONFIG_UNLOCK_DEADLINE);
        r = unlock_ops_pcr_guard(ops.settings.tcti, pcr, &err);
        if (r < 0) {
                crypt_logf(cd, CRYPT_LOG_NORMAL, "cvm-agent: no automatic unlock: %s\n",
                           cvm_error_message(&err, r));
                config_free(cfg);
                return r == -EPERM ? -ENOENT : -EAGAIN;
        }
        r = unlock_acquire_secret(&u, h, token, secret, &err);
        unlock_ctx_done(&u);
        config_free(cfg);
        if (r < 0) {
                crypt_logf(cd, CRYPT_LOG_NORMAL, "cvm-agent: token %d: %s failed: %s\n", token,
                           unlock_stage_name(u.stage), cvm_error_message(&err, r));
                OPENSSL_cleanse(secret, sizeof(secret));
                /* Service absent or refused: the host falls back to the passphrase prompt. */
                return u.stage == UNLOCK_STAGE_UNWRAP ? -EPERM : -EAGAIN;
        }
        pass = malloc(LUKS_PASSPHRASE_SIZE + 1);
        if (!pass) {
                OPENSSL_cleanse(secret, sizeof(secret));
                return -ENOMEM;
        }
        luks_secret_passphrase(secret, pass);
        OPENSSL_cleanse(secret, sizeof(secret));
        *buffer = pass;
        *buffer_len = LUKS_PASSPHRASE_SIZE;
        return 0;
}

int cryptsetup_token_open(struct crypt_device *cd, int token, char **buffer, size_t *buffer_len,
                          void *usrptr)
{
        return cryptsetup_token_open_pin(cd, token, NULL, 0, buffer, buffer_len, usrptr);
}

void cryptsetup_token_buffer_free(void *buffer, size_t buffer_len)
{
        if (!buffer)
                return;
        OPENSSL_cleanse(buffer, buffer_len);
        free(buffer);
}
