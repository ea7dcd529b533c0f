/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "hashalg.h"
#include "tpm.h"

#define TPM_MAX_TRACKED 16

struct tpm {
        ESYS_CONTEXT *esys;
        TSS2_TCTI_CONTEXT *tcti;
        int nv_buffer_max;                /* 0 until queried */
        ESYS_TR tracked[TPM_MAX_TRACKED]; /* transient objects to flush on close */
};

/* The EK authPolicy of the TCG EK credential profile (PolicySecret(TPM_RH_ENDORSEMENT)). */
static const uint8_t ek_policy[32] = {
        0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
        0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

/* ------------------------------------------------------------------------------------------------ */
/* TSS2_RC -> errno + words: the one place. */

struct rc_info {
        TSS2_RC base;
        int err;
        const char *meaning;
};

static const struct rc_info tpm_rcs[] = {
        {TPM2_RC_INITIALIZE, -EIO, "TPM not initialized (TPM2_Startup was not run)"},
        {TPM2_RC_FAILURE, -EIO, "TPM failure: commands are not being accepted (failure mode)"},
        {TPM2_RC_DISABLED, -EPERM, "command is disabled"},
        {TPM2_RC_AUTH_TYPE, -EACCES, "authorization handle is not correct for the command"},
        {TPM2_RC_AUTH_MISSING, -EACCES, "command requires an authorization session that is missing"},
        {TPM2_RC_POLICY, -EACCES, "invalid authPolicy or policy computation failure"},
        {TPM2_RC_PCR, -EACCES, "PCR check failed"},
        {TPM2_RC_PCR_CHANGED, -ESTALE, "PCRs changed since the policy was checked"},
        {TPM2_RC_AUTH_UNAVAILABLE, -EACCES, "authValue or authPolicy is not available for this entity"},
        {TPM2_RC_REBOOT, -EIO, "TPM needs a reset (_TPM_Init + Startup) before it can continue"},
        {TPM2_RC_COMMAND_CODE, -EOPNOTSUPP, "command not supported by this TPM"},
        {TPM2_RC_NV_RANGE, -EINVAL, "NV offset + size is out of the index's range"},
        {TPM2_RC_NV_SIZE, -EINVAL, "NV size is larger than the TPM allows"},
        {TPM2_RC_NV_LOCKED, -EPERM, "NV index is locked"},
        {TPM2_RC_NV_AUTHORIZATION, -EACCES, "NV index does not allow this authorization"},
        {TPM2_RC_NV_UNINITIALIZED, -ENODATA, "NV index has never been written"},
        {TPM2_RC_NV_SPACE, -ENOSPC, "not enough NV space left in the TPM"},
        {TPM2_RC_NV_DEFINED, -EEXIST, "NV index or persistent handle is already defined"},
        {TPM2_RC_PARENT, -EINVAL, "handle is not a valid parent"},
        {TPM2_RC_SENSITIVE, -EBADMSG, "sensitive area did not unmarshal correctly"},
        {TPM2_RC_ASYMMETRIC, -EOPNOTSUPP, "asymmetric algorithm not supported or not correct"},
        {TPM2_RC_ATTRIBUTES, -EINVAL, "inconsistent object or NV attributes"},
        {TPM2_RC_HASH, -EOPNOTSUPP, "hash algorithm not supported or not appropriate"},
        {TPM2_RC_VALUE, -EINVAL, "value is out of range or not correct for the context"},
        {TPM2_RC_HIERARCHY, -EACCES, "hierarchy is disabled or not correct for the use"},
        {TPM2_RC_KEY_SIZE, -EOPNOTSUPP, "key size not supported"},
        {TPM2_RC_MGF, -EOPNOTSUPP, "mask generation function not supported"},
        {TPM2_RC_MODE, -EOPNOTSUPP, "mode of operation not supported"},
        {TPM2_RC_TYPE, -EINVAL, "type of the value is not appropriate for the use"},
        {TPM2_RC_HANDLE, -ENOENT, "handle missing: no object or NV index there, or wrong kind of handle"},
        {TPM2_RC_KDF, -EOPNOTSUPP, "key derivation function not supported"},
        {TPM2_RC_RANGE, -EINVAL, "value out of the allowed range"},
        {TPM2_RC_AUTH_FAIL, -EACCES,
         "authorization failed: wrong authValue (the dictionary-attack counter was incremented)"},
        {TPM2_RC_NONCE, -EINVAL, "invalid nonce size or nonce mismatch"},
        {TPM2_RC_PP, -EACCES, "physical presence required"},
        {TPM2_RC_SCHEME, -EOPNOTSUPP, "unsupported or incompatible scheme"},
        {TPM2_RC_SIZE, -EINVAL, "structure is the wrong size"},
        {TPM2_RC_SYMMETRIC, -EOPNOTSUPP, "symmetric algorithm or key size not supported"},
        {TPM2_RC_TAG, -EINVAL, "incorrect structure tag"},
        {TPM2_RC_SELECTOR, -EINVAL, "union selector is incorrect"},
        {TPM2_RC_INSUFFICIENT, -EINVAL, "TPM could not unmarshal a value: input too short"},
        {TPM2_RC_SIGNATURE, -EINVAL, "signature is not valid"},
        {TPM2_RC_KEY, -EINVAL, "key fields are not compatible with the selected use"},
        {TPM2_RC_POLICY_FAIL, -EACCES,
         "policy check failed (e.g. the PCR values differ from those the object's policy requires)"},
        {TPM2_RC_INTEGRITY, -EBADMSG, "integrity check failed"},
        {TPM2_RC_TICKET, -EINVAL, "invalid ticket"},
        {TPM2_RC_RESERVED_BITS, -EINVAL, "reserved bits not zero"},
        {TPM2_RC_BAD_AUTH, -EACCES, "authorization failed: wrong authValue (object is not DA-protected)"},
        {TPM2_RC_EXPIRED, -EACCES, "the policy has expired"},
        {TPM2_RC_POLICY_CC, -EACCES, "command code in the policy does not match the command"},
        {TPM2_RC_BINDING, -EBADMSG, "public and sensitive parts of the object are not bound"},
        {TPM2_RC_CURVE, -EOPNOTSUPP, "curve not supported"},
        {TPM2_RC_ECC_POINT, -EINVAL, "point is not on the curve"},
        {TPM2_RC_CONTEXT_GAP, -EAGAIN, "context ID gap too large"},
        {TPM2_RC_OBJECT_MEMORY, -ENOSPC, "TPM is out of memory for objects (flush transient objects)"},
        {TPM2_RC_SESSION_MEMORY, -ENOSPC, "TPM is out of memory for sessions"},
        {TPM2_RC_MEMORY, -ENOSPC, "TPM is out of memory"},
        {TPM2_RC_SESSION_HANDLES, -ENOSPC, "TPM is out of session handles"},
        {TPM2_RC_OBJECT_HANDLES, -ENOSPC, "TPM is out of object handles"},
        {TPM2_RC_LOCALITY, -EACCES, "not allowed from this locality"},
        {TPM2_RC_YIELDED, -EAGAIN, "TPM yielded; retry the command"},
        {TPM2_RC_CANCELED, -EAGAIN, "command was canceled"},
        {TPM2_RC_TESTING, -EAGAIN, "TPM is running self tests"},
        {TPM2_RC_NV_RATE, -EAGAIN, "TPM is rate-limiting NV writes"},
        {TPM2_RC_LOCKOUT, -EACCES,
         "dictionary-attack lockout is active: authorizations of DA-protected objects are refused"},
        {TPM2_RC_RETRY, -EAGAIN, "TPM could not start the command; retry"},
        {TPM2_RC_NV_UNAVAILABLE, -EAGAIN, "NV is not currently accessible"},
};

static const struct rc_info tss_rcs[] = {
        {TSS2_BASE_RC_GENERAL_FAILURE, -EIO, "general failure"},
        {TSS2_BASE_RC_NOT_IMPLEMENTED, -EOPNOTSUPP, "not implemented"},
        {TSS2_BASE_RC_BAD_CONTEXT, -EINVAL, "bad context"},
        {TSS2_BASE_RC_ABI_MISMATCH, -EIO, "TSS ABI version mismatch"},
        {TSS2_BASE_RC_BAD_REFERENCE, -EINVAL, "NULL reference"},
        {TSS2_BASE_RC_INSUFFICIENT_BUFFER, -EINVAL, "buffer too small"},
        {TSS2_BASE_RC_BAD_SEQUENCE, -EINVAL, "called in the wrong order"},
        {TSS2_BASE_RC_NO_CONNECTION, -ECONNREFUSED, "cannot connect to the TPM"},
        {TSS2_BASE_RC_TRY_AGAIN, -ETIMEDOUT, "TPM did not answer in time"},
        {TSS2_BASE_RC_IO_ERROR, -EIO, "I/O error talking to the TPM"},
        {TSS2_BASE_RC_BAD_VALUE, -EINVAL, "bad parameter value"},
        {TSS2_BASE_RC_NOT_PERMITTED, -EPERM, "operation not permitted"},
        {TSS2_BASE_RC_BAD_SIZE, -EINVAL, "parameter has the wrong size"},
        {TSS2_BASE_RC_MALFORMED_RESPONSE, -EIO, "malformed response from the TPM"},
        {TSS2_BASE_RC_INSUFFICIENT_RESPONSE, -EIO, "TPM response too short"},
        {TSS2_BASE_RC_INCOMPATIBLE_TCTI, -EIO, "unusable TCTI"},
        {TSS2_BASE_RC_NOT_SUPPORTED, -EOPNOTSUPP, "not supported"},
        {TSS2_BASE_RC_BAD_TCTI_STRUCTURE, -EIO, "bad TCTI structure"},
        {TSS2_BASE_RC_MEMORY, -ENOMEM, "out of memory"},
        {TSS2_BASE_RC_BAD_TR, -EINVAL, "invalid ESYS_TR handle"},
        {TSS2_BASE_RC_RSP_AUTH_FAILED, -EIO, "response HMAC from the TPM did not verify"},
};

static const struct rc_info *rc_lookup(const struct rc_info *tab, size_t n, TSS2_RC base)
{
        for (size_t i = 0; i < n; i++)
                if (tab[i].base == base)
                        return &tab[i];
        return NULL;
}

/* Splits a TPM-layer code into its base and, for format-one codes, which handle/parameter/session. */
static TSS2_RC tpm_rc_base(TSS2_RC rc, char *where, size_t where_size)
{
        TSS2_RC code = rc & 0xffff;

        where[0] = '\0';
        if (code & TPM2_RC_FMT1) {
                unsigned n = (code & TPM2_RC_N_MASK) >> 8;

                if (code & TPM2_RC_P)
                        snprintf(where, where_size, ", parameter %u", n);
                else if (n >= 8)
                        snprintf(where, where_size, ", session %u", n - 8);
                else if (n > 0)
                        snprintf(where, where_size, ", handle %u", n);
                return code & (TPM2_RC_FMT1 | 0x3f);
        }
        return code & (TPM2_RC_WARN | TPM2_RC_VER1 | 0x7f);
}

static bool rc_is_tpm_layer(TSS2_RC rc)
{
        TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;

        return layer == TSS2_TPM_RC_LAYER || layer == TSS2_RESMGR_TPM_RC_LAYER;
}

static int rc_classify(TSS2_RC rc, const char **ret_meaning, char *where, size_t where_size)
{
        const struct rc_info *info;

        where[0] = '\0';
        if (rc_is_tpm_layer(rc))
                info = rc_lookup(tpm_rcs, ELEMENTSOF(tpm_rcs), tpm_rc_base(rc, where, where_size));
        else
                info = rc_lookup(tss_rcs, ELEMENTSOF(tss_rcs), rc & 0xffff);
        if (info) {
                *ret_meaning = info->meaning;
                return info->err;
        }
        *ret_meaning = NULL;
        return -EIO;
}

const char *tpm_rc_meaning(uint32_t rc)
{
        const char *meaning;
        char where[32];

        (void)rc_classify(rc, &meaning, where, sizeof(where));
        if (meaning)
                return meaning;
        return Tss2_RC_Decode(rc); /* static buffer inside tss2-rc */
}

int tpm_rc_error(uint32_t rc, const char *what, struct cvm_error *err)
{
        const char *meaning, *layer;
        char where[32];
        int r;

        if (rc == TSS2_RC_SUCCESS)
                return cvm_error_set(err, -EINVAL, "%s: internal error: no TPM error to report", what);

        r = rc_classify(rc, &meaning, where, sizeof(where));
        if (!meaning)
                meaning = Tss2_RC_Decode(rc);
        switch (rc & TSS2_RC_LAYER_MASK) {
        case TSS2_TPM_RC_LAYER:
                layer = "TPM";
                break;
        case TSS2_RESMGR_TPM_RC_LAYER:
        case TSS2_RESMGR_RC_LAYER:
                layer = "resource manager";
                break;
        case TSS2_TCTI_RC_LAYER:
                layer = "TCTI";
                break;
        default:
                layer = "TSS";
        }
        return cvm_error_set(err, r, "%s: %s (%s rc 0x%x%s)", what, meaning, layer, (unsigned)rc, where);
}

/* ------------------------------------------------------------------------------------------------ */

static void track(struct tpm *t, ESYS_TR obj)
{
        for (size_t i = 0; i < TPM_MAX_TRACKED; i++)
                if (t->tracked[i] == ESYS_TR_NONE) {
                        t->tracked[i] = obj;
                        return;
                }
        /* More live objects than any caller needs; the TPM itself has fewer slots. */
}

static void untrack(struct tpm *t, ESYS_TR obj)
{
        for (size_t i = 0; i < TPM_MAX_TRACKED; i++)
                if (t->tracked[i] == obj)
                        t->tracked[i] = ESYS_TR_NONE;
}

void tpm_flush(struct tpm *t, tpm_object object)
{
        if (!t || object == ESYS_TR_NONE)
                return;
        untrack(t, object);
        (void)Esys_FlushContext(t->esys, object);
}

static void flush_session(struct tpm *t, ESYS_TR *session)
{
        if (*session != ESYS_TR_NONE)
                (void)Esys_FlushContext(t->esys, *session);
        *session = ESYS_TR_NONE;
}

int tpm_open(const char *tcti, struct tpm **ret, struct cvm_error *err)
{
        struct tpm *t;
        TSS2_RC rc;
        int r;

        if (!tcti || !*tcti)
                tcti = TPM_TCTI_DEFAULT;

        /* tss2 logs errors to stderr by default; this module reports them through struct cvm_error. */
        (void)setenv("TSS2_LOG", "all+NONE", 0);

        t = calloc(1, sizeof(*t));
        if (!t)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < TPM_MAX_TRACKED; i++)
                t->tracked[i] = ESYS_TR_NONE;

        rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
        if (rc != TSS2_RC_SUCCESS) {
                const char *dev = strncmp(tcti, "device:", 7) == 0 ? tcti + 7 : NULL;
                char what[300];

                free(t);
                /* The device TCTI only logs why open() failed; say it here, tss2 logging is off. */
                if (dev && *dev && access(dev, R_OK | W_OK) < 0)
                        return cvm_error_set(err, -errno, "cannot open TPM through TCTI '%s': %s: %s", tcti,
                                             dev, strerror(errno));
                snprintf(what, sizeof(what), "cannot open TPM through TCTI '%s'", tcti);
                r = tpm_rc_error(rc, what, err);
                return r == -EIO ? -ECONNREFUSED : r;
        }
        rc = Esys_Initialize(&t->esys, t->tcti, NULL);
        if (rc != TSS2_RC_SUCCESS) {
                r = tpm_rc_error(rc, "cannot initialize the ESAPI context", err);
                Tss2_TctiLdr_Finalize(&t->tcti);
                free(t);
                return r;
        }
        *ret = t;
        return 0;
}

void tpm_close(struct tpm *t)
{
        if (!t)
                return;
        for (size_t i = 0; i < TPM_MAX_TRACKED; i++)
                if (t->tracked[i] != ESYS_TR_NONE)
                        (void)Esys_FlushContext(t->esys, t->tracked[i]);
        Esys_Finalize(&t->esys);
        Tss2_TctiLdr_Finalize(&t->tcti);
        free(t);
}

static int get_property(struct tpm *t, TPM2_PT pt, const char *name, uint32_t *ret, struct cvm_error *err)
{
        _cleanup_(freep) TPMS_CAPABILITY_DATA *cap = NULL;
        TPMI_YES_NO more;
        char what[80];
        TSS2_RC rc;

        snprintf(what, sizeof(what), "TPM2_GetCapability(%s)", name);
        rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
                                pt, 1, &more, &cap);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_rc_error(rc, what, err);
        if (cap->data.tpmProperties.count < 1 || cap->data.tpmProperties.tpmProperty[0].property != pt)
                return cvm_error_set(err, -EIO, "%s: the TPM does not report this property", what);
        *ret = cap->data.tpmProperties.tpmProperty[0].value;
        return 0;
}

int tpm_lockout_counter(struct tpm *t, uint32_t *ret, struct cvm_error *err)
{
        return get_property(t, TPM2_PT_LOCKOUT_COUNTER, "TPM_PT_LOCKOUT_COUNTER", ret, err);
}

int tpm_nv_buffer_max(struct tpm *t, struct cvm_error *err)
{
        uint32_t v;
        int r;

        if (t->nv_buffer_max > 0)
                return t->nv_buffer_max;

        r = get_property(t, TPM2_PT_NV_BUFFER_MAX, "TPM_PT_NV_BUFFER_MAX", &v, err);
        if (r < 0)
                return r;
        if (v == 0 || v > 65535)
                return cvm_error_set(err, -EIO, "TPM_PT_NV_BUFFER_MAX is %u", v);
        t->nv_buffer_max = (int)v;
        /* Never beyond what the TSS structure can carry. */
        if (t->nv_buffer_max > (int)sizeof(((TPM2B_MAX_NV_BUFFER *)NULL)->buffer))
                t->nv_buffer_max = (int)sizeof(((TPM2B_MAX_NV_BUFFER *)NULL)->buffer);
        return t->nv_buffer_max;
}

static void pcr_selection(TPML_PCR_SELECTION *sel, uint16_t alg, uint32_t mask)
{
        memset(sel, 0, sizeof(*sel));
        sel->count = 1;
        sel->pcrSelections[0].hash = alg;
        sel->pcrSelections[0].sizeofSelect = 3;
        sel->pcrSelections[0].pcrSelect[0] = mask & 0xff;
        sel->pcrSelections[0].pcrSelect[1] = (mask >> 8) & 0xff;
        sel->pcrSelections[0].pcrSelect[2] = (mask >> 16) & 0xff;
}

static int check_pcr_args(uint16_t alg, uint32_t mask, const struct hash_alg **ret, struct cvm_error *err)
{
        const struct hash_alg *h = hash_alg_by_tpm_id(alg);

        if (!h)
                return cvm_error_set(err, -EOPNOTSUPP, "unknown PCR bank algorithm 0x%04x", alg);
        if (mask == 0 || (mask >> TPM_PCR_COUNT) != 0)
                return cvm_error_set(err, -EINVAL, "invalid PCR selection 0x%x (PCRs 0-23, at least one)",
                                     (unsigned)mask);
        *ret = h;
        return 0;
}

int tpm_pcr_read(struct tpm *t, uint16_t alg, uint32_t mask, struct tpm_pcrs *ret, struct cvm_error *err)
{
        const struct hash_alg *h;
        struct tpm_pcrs out = {.alg = alg, .mask = mask};
        uint32_t todo = mask;
        int r;

        r = check_pcr_args(alg, mask, &h, err);
        if (r < 0)
                return r;
        out.digest_size = h->size;

        /* TPM2_PCR_Read returns at most 8 digests per call: repeat for what is left. */
        while (todo) {
                _cleanup_(freep) TPML_PCR_SELECTION *got = NULL;
                _cleanup_(freep) TPML_DIGEST *values = NULL;
                TPML_PCR_SELECTION sel;
                UINT32 counter;
                uint32_t got_mask;
                size_t k = 0;
                TSS2_RC rc;

                pcr_selection(&sel, alg, todo);
                rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, &counter, &got,
                                   &values);
                if (rc != TSS2_RC_SUCCESS)
                        return tpm_rc_error(rc, "TPM2_PCR_Read", err);
                if (got->count == 0)
                        return cvm_error_set(err, -EOPNOTSUPP,
                                             "TPM2_PCR_Read: the %s PCR bank is not active", h->name);
                got_mask = (uint32_t)got->pcrSelections[0].pcrSelect[0] |
                           ((uint32_t)got->pcrSelections[0].pcrSelect[1] << 8) |
                           ((uint32_t)got->pcrSelections[0].pcrSelect[2] << 16);
                got_mask &= todo;
                if (got_mask == 0)
                        return cvm_error_set(err, -EOPNOTSUPP,
                                             "TPM2_PCR_Read: the TPM returned none of the requested %s PCRs",
                                             h->name);
                for (unsigned i = 0; i < TPM_PCR_COUNT; i++) {
                        if (!(got_mask & (1u << i)))
                                continue;
                        if (k >= values->count || values->digests[k].size != h->size)
                                return cvm_error_set(
                                        err, -EIO,
                                        "TPM2_PCR_Read: response has fewer or wrong-size digests");
                        memcpy(out.digest[i], values->digests[k].buffer, h->size);
                        k++;
                }
                todo &= ~got_mask;
        }
        *ret = out;
        return 0;
}

int tpm_pcr_extend(struct tpm *t, unsigned pcr, size_t n, const uint16_t *algs,
                   const uint8_t *const *digests, struct cvm_error *err)
{
        TPML_DIGEST_VALUES values = {};
        char what[64];
        TSS2_RC rc;

        if (pcr >= TPM_PCR_COUNT)
                return cvm_error_set(err, -EINVAL, "PCR %u does not exist", pcr);
        if (n == 0 || n > ELEMENTSOF(values.digests))
                return cvm_error_set(err, -EINVAL, "PCR extend needs 1..%zu digests",
                                     ELEMENTSOF(values.digests));
        for (size_t i = 0; i < n; i++) {
                const struct hash_alg *h = hash_alg_by_tpm_id(algs[i]);

                if (!h || h->size > sizeof(values.digests[i].digest))
                        return cvm_error_set(err, -EOPNOTSUPP, "PCR extend: unknown algorithm 0x%04x",
                                             algs[i]);
                values.digests[i].hashAlg = algs[i];
                memcpy(&values.digests[i].digest, digests[i], h->size);
        }
        values.count = (UINT32)n;

        snprintf(what, sizeof(what), "TPM2_PCR_Extend of PCR %u", pcr);
        rc = Esys_PCR_Extend(t->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                             &values);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_rc_error(rc, what, err);
        return 0;
}

/* An ESYS_TR for a persistent object or NV index; -ENOENT with a precise message when absent. */
static int resolve_handle(struct tpm *t, uint32_t handle, const char *kind, ESYS_TR *ret,
                          struct cvm_error *err)
{
        char what[96];
        TSS2_RC rc;
        int r;

        rc = Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ret);
        if (rc == TSS2_RC_SUCCESS)
                return 0;
        snprintf(what, sizeof(what), "%s 0x%08x", kind, handle);
        r = tpm_rc_error(rc, what, err);
        return r;
}

static void close_tr(struct tpm *t, ESYS_TR *tr)
{
        if (*tr != ESYS_TR_NONE)
                (void)Esys_TR_Close(t->esys, tr);
        *tr = ESYS_TR_NONE;
}

static int blob_from(const void *p, size_t n, struct tpm_blob *ret, struct cvm_error *err)
{
        uint8_t *d = malloc(n ? n : 1);

        if (!d)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        memcpy(d, p, n);
        ret->data = d;
        ret->size = n;
        return 0;
}

static int marshal_public(const TPM2B_PUBLIC *pub, struct tpm_blob *ret, struct cvm_error *err)
{
        uint8_t buf[sizeof(TPM2B_PUBLIC)];
        size_t off = 0;
        TSS2_RC rc;

        rc = Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &off);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_rc_error(rc, "marshaling TPM2B_PUBLIC", err);
        return blob_from(buf, off, ret, err);
}

static int marshal_signature(const TPMT_SIGNATURE *sig, struct tpm_blob *ret, struct cvm_error *err)
{
        uint8_t buf[sizeof(TPMT_SIGNATURE)];
        size_t off = 0;
        TSS2_RC rc;

        rc = Tss2_MU_TPMT_SIGNATURE_Marshal(sig, buf, sizeof(buf), &off);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_rc_error(rc, "marshaling TPMT_SIGNATURE", err);
        return blob_from(buf, off, ret, err);
}

static int make_data(TPM2B_DATA *d, const uint8_t *p, size_t n, const char *what, struct cvm_error *err)
{
        memset(d, 0, sizeof(*d));
        if (n > sizeof(d->buffer))
                return cvm_error_set(err, -EINVAL, "%s is %zu bytes; at most %zu are allowed", what, n,
                                     sizeof(d->buffer));
        if (n)
                memcpy(d->buffer, p, n);
        d->size = (UINT16)n;
        return 0;
}

static int attest_and_sig(const TPM2B_ATTEST *attest, const TPMT_SIGNATURE *sig, struct tpm_blob *ret_attest,
                          struct tpm_blob *ret_sig, struct cvm_error *err)
{
        struct tpm_blob a = {}, s = {};
        int r;

        r = blob_from(attest->attestationData, attest->size, &a, err);
        if (r < 0)
                return r;
        r = marshal_signature(sig, &s, err);
        if (r < 0) {
                tpm_blob_done(&a);
                return r;
        }
        *ret_attest = a;
        *ret_sig = s;
        return 0;
}

int tpm_quote(struct tpm *t, uint32_t ak_handle, uint16_t alg, uint32_t mask, const uint8_t *nonce,
              size_t nonce_size, struct tpm_blob *ret_attest, struct tpm_blob *ret_sig,
              struct cvm_error *err)
{
        _cleanup_(freep) TPM2B_ATTEST *quoted = NULL;
        _cleanup_(freep) TPMT_SIGNATURE *sig = NULL;
        TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
        const struct hash_alg *h;
        TPML_PCR_SELECTION sel;
        ESYS_TR ak = ESYS_TR_NONE;
        TPM2B_DATA qualifying;
        char what[64];
        TSS2_RC rc;
        int r;

        r = check_pcr_args(alg, mask, &h, err);
        if (r < 0)
                return r;
        r = make_data(&qualifying, nonce, nonce_size, "quote nonce", err);
        if (r < 0)
                return r;
        r = resolve_handle(t, ak_handle, "attestation key at persistent handle", &ak, err);
        if (r < 0)
                return r;

        pcr_selection(&sel, alg, mask);
        rc = Esys_Quote(t->esys, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qualifying, &scheme,
                        &sel, &quoted, &sig);
        close_tr(t, &ak);
        if (rc != TSS2_RC_SUCCESS) {
                snprintf(what, sizeof(what), "TPM2_Quote with the key at 0x%08x", ak_handle);
                return tpm_rc_error(rc, what, err);
        }
        return attest_and_sig(quoted, sig, ret_attest, ret_sig, err);
}

int tpm_read_public(struct tpm *t, uint32_t handle, struct tpm_blob *ret_public, struct cvm_error *err)
{
        _cleanup_(freep) TPM2B_PUBLIC *pub = NULL;
        ESYS_TR obj = ESYS_TR_NONE;
        TSS2_RC rc;
        int r;

        r = resolve_handle(t, handle, "persistent handle", &obj, err);
        if (r < 0)
                return r;
        rc = Esys_ReadPublic(t->esys, obj, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL, NULL);
        close_tr(t, &obj);
        if (rc != TSS2_RC_SUCCESS) {
                char what[64];

                snprintf(what, sizeof(what), "TPM2_ReadPublic of 0x%08x", handle);
                return tpm_rc_error(rc, what, err);
        }
        return marshal_public(pub, ret_public, err);
}

/* ------------------------------------------------------------------------------------------------ */
/* NV */

static int nv_open(struct tpm *t, uint32_t index, ESYS_TR *ret_tr, TPMS_NV_PUBLIC *ret_pub,
                   struct cvm_error *err)
{
        _cleanup_(freep) TPM2B_NV_PUBLIC *pub = NULL;
        ESYS_TR tr = ESYS_TR_NONE;
        TSS2_RC rc;
        int r;

        if ((index >> 24) != TPM2_HT_NV_INDEX)
                return cvm_error_set(err, -EINVAL, "0x%08x is not an NV index handle", index);
        r = resolve_handle(t, index, "NV index", &tr, err);
        if (r < 0)
                return r;
        rc = Esys_NV_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL);
        if (rc != TSS2_RC_SUCCESS) {
                char what[64];

                close_tr(t, &tr);
                snprintf(what, sizeof(what), "TPM2_NV_ReadPublic of 0x%08x", index);
                return tpm_rc_error(rc, what, err);
        }
        *ret_tr = tr;
        *ret_pub = pub->nvPublic;
        return 0;
}

int tpm_nv_size(struct tpm *t, uint32_t index, size_t *ret_size, struct cvm_error *err)
{
        ESYS_TR tr = ESYS_TR_NONE;
        TPMS_NV_PUBLIC pub;
        int r;

        r = nv_open(t, index, &tr, &pub, err);
        if (r < 0)
                return r;
        close_tr(t, &tr);
        *ret_size = pub.dataSize;
        return 0;
}

int tpm_nv_read(struct tpm *t, uint32_t index, struct tpm_blob *ret, struct cvm_error *err)
{
        _cleanup_free_ uint8_t *buf = NULL;
        ESYS_TR tr = ESYS_TR_NONE, auth;
        TPMS_NV_PUBLIC pub;
        int r, chunk;
        size_t off = 0;

        chunk = tpm_nv_buffer_max(t, err);
        if (chunk < 0)
                return chunk;
        r = nv_open(t, index, &tr, &pub, err);
        if (r < 0)
                return r;

        if (!(pub.attributes & TPMA_NV_WRITTEN)) {
                close_tr(t, &tr);
                return cvm_error_set(err, -ENODATA, "NV index 0x%08x is defined but has never been written",
                                     index);
        }
        if (pub.attributes & TPMA_NV_OWNERREAD)
                auth = ESYS_TR_RH_OWNER;
        else if (pub.attributes & TPMA_NV_AUTHREAD)
                auth = tr;
        else {
                close_tr(t, &tr);
                return cvm_error_set(
                        err, -EPERM,
                        "NV index 0x%08x is readable neither with owner nor with index authorization",
                        index);
        }

        buf = malloc(pub.dataSize ? pub.dataSize : 1);
        if (!buf) {
                close_tr(t, &tr);
                return cvm_error_set(err, -ENOMEM, "out of memory");
        }
        while (off < pub.dataSize) {
                _cleanup_(freep) TPM2B_MAX_NV_BUFFER *data = NULL;
                UINT16 n = (UINT16)(pub.dataSize - off < (size_t)chunk ? pub.dataSize - off : (size_t)chunk);
                TSS2_RC rc;

                rc = Esys_NV_Read(t->esys, auth, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n,
                                  (UINT16)off, &data);
                if (rc != TSS2_RC_SUCCESS) {
                        char what[80];

                        close_tr(t, &tr);
                        snprintf(what, sizeof(what), "TPM2_NV_Read of 0x%08x at offset %zu", index, off);
                        return tpm_rc_error(rc, what, err);
                }
                if (data->size != n) {
                        close_tr(t, &tr);
                        return cvm_error_set(err, -EIO,
                                             "TPM2_NV_Read of 0x%08x at offset %zu: got %u of %u bytes",
                                             index, off, data->size, n);
                }
                memcpy(buf + off, data->buffer, n);
                off += n;
        }
        close_tr(t, &tr);
        ret->data = TAKE_PTR(buf);
        ret->size = pub.dataSize;
        return 0;
}

static int nv_define(struct tpm *t, uint32_t index, size_t size, ESYS_TR *ret_tr, struct cvm_error *err)
{
        TPM2B_NV_PUBLIC pub = {
                .nvPublic =
                        {
                                .nvIndex = index,
                                .nameAlg = TPM2_ALG_SHA256,
                                .attributes = TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD | TPMA_NV_AUTHREAD |
                                              TPMA_NV_NO_DA,
                                .dataSize = (UINT16)size,
                        },
        };
        TPM2B_AUTH auth = {};
        char what[64];
        TSS2_RC rc;

        rc = Esys_NV_DefineSpace(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                 &auth, &pub, ret_tr);
        if (rc != TSS2_RC_SUCCESS) {
                snprintf(what, sizeof(what), "TPM2_NV_DefineSpace of 0x%08x (%zu bytes)", index, size);
                return tpm_rc_error(rc, what, err);
        }
        return 0;
}

static int nv_undefine_tr(struct tpm *t, uint32_t index, ESYS_TR *tr, struct cvm_error *err)
{
        char what[64];
        TSS2_RC rc;

        rc = Esys_NV_UndefineSpace(t->esys, ESYS_TR_RH_OWNER, *tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                   ESYS_TR_NONE);
        if (rc != TSS2_RC_SUCCESS) {
                close_tr(t, tr);
                snprintf(what, sizeof(what), "TPM2_NV_UndefineSpace of 0x%08x", index);
                return tpm_rc_error(rc, what, err);
        }
        *tr = ESYS_TR_NONE; /* ESYS releases the object on success */
        return 0;
}

int tpm_nv_undefine(struct tpm *t, uint32_t index, struct cvm_error *err)
{
        ESYS_TR tr = ESYS_TR_NONE;
        TPMS_NV_PUBLIC pub;
        int r;

        r = nv_open(t, index, &tr, &pub, err);
        if (r < 0)
                return r;
        return nv_undefine_tr(t, index, &tr, err);
}

int tpm_nv_write(struct tpm *t, uint32_t index, const uint8_t *data, size_t size, struct cvm_error *err)
{
        ESYS_TR tr = ESYS_TR_NONE, auth;
        struct cvm_error probe = {};
        TPMS_NV_PUBLIC pub;
        int r, chunk;
        size_t off = 0;

        if (size == 0 || size > UINT16_MAX)
                return cvm_error_set(err, -EINVAL, "NV write of %zu bytes to 0x%08x: size out of range",
                                     size, index);
        chunk = tpm_nv_buffer_max(t, err);
        if (chunk < 0)
                return chunk;

        r = nv_open(t, index, &tr, &pub, &probe);
        if (r == -ENOENT) {
                r = nv_define(t, index, size, &tr, err);
                if (r < 0)
                        return r;
                pub.attributes = TPMA_NV_OWNERWRITE;
        } else if (r < 0) {
                return cvm_error_set(err, r, "%s", probe.message);
        } else if (pub.dataSize != size) {
                /* A stale index of another size would leave old bytes behind or refuse the write. */
                r = nv_undefine_tr(t, index, &tr, err);
                if (r < 0)
                        return r;
                r = nv_define(t, index, size, &tr, err);
                if (r < 0)
                        return r;
                pub.attributes = TPMA_NV_OWNERWRITE;
        }

        if (pub.attributes & TPMA_NV_OWNERWRITE)
                auth = ESYS_TR_RH_OWNER;
        else if (pub.attributes & TPMA_NV_AUTHWRITE)
                auth = tr;
        else {
                close_tr(t, &tr);
                return cvm_error_set(
                        err, -EPERM,
                        "NV index 0x%08x is writable neither with owner nor with index authorization",
                        index);
        }

        while (off < size) {
                TPM2B_MAX_NV_BUFFER buf = {};
                size_t n = size - off < (size_t)chunk ? size - off : (size_t)chunk;
                TSS2_RC rc;

                buf.size = (UINT16)n;
                memcpy(buf.buffer, data + off, n);
                rc = Esys_NV_Write(t->esys, auth, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &buf,
                                   (UINT16)off);
                if (rc != TSS2_RC_SUCCESS) {
                        char what[80];

                        close_tr(t, &tr);
                        snprintf(what, sizeof(what), "TPM2_NV_Write of 0x%08x at offset %zu", index, off);
                        return tpm_rc_error(rc, what, err);
                }
                off += n;
        }
        close_tr(t, &tr);
        return 0;
}

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int tpm_hcl_report_refresh(struct tpm *t, const uint8_t *user_data, size_t user_data_size,
                           unsigned timeout_ms, tpm_report_match_fn match, void *userdata,
                           struct tpm_blob *ret_report, struct cvm_error *err)
{
        uint64_t start;
        int r;

        if (user_data_size == 0 || user_data_size > TPM_AZURE_USER_DATA_MAX)
                return cvm_error_set(err, -EINVAL, "HCL user data must be 1..%u bytes, not %zu",
                                     TPM_AZURE_USER_DATA_MAX, user_data_size);
        if (!match)
                return cvm_error_set(err, -EINVAL, "no report matcher given");

        r = tpm_nv_write(t, TPM_AZURE_USER_DATA_NV, user_data, user_data_size, err);
        if (r < 0)
                return r;

        start = now_ms();
        for (;;) {
                struct tpm_blob report = {};
                struct timespec pause = {.tv_nsec = 100 * 1000 * 1000};

                r = tpm_nv_read(t, TPM_AZURE_HCL_REPORT_NV, &report, err);
                if (r < 0)
                        return r;
                r = match(report.data, report.size, user_data, user_data_size, userdata, err);
                if (r > 0) {
                        *ret_report = report;
                        return 0;
                }
                tpm_blob_done(&report);
                if (r < 0)
                        return r;
                if (now_ms() - start >= timeout_ms)
                        break;
                (void)nanosleep(&pause, NULL);
        }
        return cvm_error_set(
                err, -ETIMEDOUT,
                "stale report: the HCL report in NV 0x%08x still does not carry the user data written "
                "to NV 0x%08x after %u ms (the paravisor did not regenerate it)",
                TPM_AZURE_HCL_REPORT_NV, TPM_AZURE_USER_DATA_NV, timeout_ms);
}

/* ------------------------------------------------------------------------------------------------ */
/* Keys */

static int start_session(struct tpm *t, TPM2_SE type, ESYS_TR *ret, struct cvm_error *err)
{
        TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_NULL};
        TSS2_RC rc;

        rc = Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   ESYS_TR_NONE, NULL, type, &sym, TPM2_ALG_SHA256, ret);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_rc_error(rc,
                                    type == TPM2_SE_TRIAL ? "TPM2_StartAuthSession (trial)"
                                                          : "TPM2_StartAuthSession (policy)",
                                    err);
        return 0;
}

static int policy_pcr_0_7(struct tpm *t, ESYS_TR session, struct cvm_error *err)
{
        TPM2B_DIGEST empty = {};
        TPML_PCR_SELECTION sel;
        TSS2_RC rc;

        /* An empty pcrDigest makes the TPM use the current PCR values. */
        pcr_selection(&sel, TPM2_ALG_SHA256, 0xff);
        rc = Esys_PolicyPCR(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &empty, &sel);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_rc_error(rc, "TPM2_PolicyPCR(sha256:0-7)", err);
        return 0;
}

static int policy_secret_endorsement(struct tpm *t, ESYS_TR session, struct cvm_error *err)
{
        TSS2_RC rc;

        rc = Esys_PolicySecret(t->esys, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                               ESYS_TR_NONE, NULL, NULL, NULL, 0, NULL, NULL);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_rc_error(rc, "TPM2_PolicySecret(TPM_RH_ENDORSEMENT)", err);
        return 0;
}

static TPM2B_PUBLIC ek_template(void)
{
        TPM2B_PUBLIC tmpl = {
                .publicArea =
                        {
                                .type = TPM2_ALG_RSA,
                                .nameAlg = TPM2_ALG_SHA256,
                                .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                                    TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                                    TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED |
                                                    TPMA_OBJECT_DECRYPT,
                                .parameters.rsaDetail =
                                        {
                                                .symmetric = {.algorithm = TPM2_ALG_AES,
                                                              .keyBits.aes = 128,
                                                              .mode.aes = TPM2_ALG_CFB},
                                                .scheme = {.scheme = TPM2_ALG_NULL},
                                                .keyBits = 2048,
                                                .exponent = 0,
                                        },
                        },
        };

        tmpl.publicArea.authPolicy.size = sizeof(ek_policy);
        memcpy(tmpl.publicArea.authPolicy.buffer, ek_policy, sizeof(ek_policy));
        tmpl.publicArea.unique.rsa.size = 256;
        return tmpl;
}

static int create_primary(struct tpm *t, ESYS_TR hierarchy, const TPM2B_PUBLIC *tmpl, const char *what,
                          tpm_object *ret_object, struct tpm_blob *ret_public, struct cvm_error *err)
{
        _cleanup_(freep) TPM2B_PUBLIC *pub = NULL;
        _cleanup_(freep) TPM2B_CREATION_DATA *cdata = NULL;
        _cleanup_(freep) TPM2B_DIGEST *chash = NULL;
        _cleanup_(freep) TPMT_TK_CREATION *ticket = NULL;
        TPM2B_SENSITIVE_CREATE sens = {};
        TPM2B_DATA outside = {};
        TPML_PCR_SELECTION creation_pcr = {};
        struct tpm_blob p = {};
        ESYS_TR obj;
        TSS2_RC rc;
        int r;

        rc = Esys_CreatePrimary(t->esys, hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
                                tmpl, &outside, &creation_pcr, &obj, &pub, &cdata, &chash, &ticket);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_rc_error(rc, what, err);
        track(t, obj);
        if (ret_public) {
                r = marshal_public(pub, &p, err);
                if (r < 0) {
                        tpm_flush(t, obj);
                        return r;
                }
                *ret_public = p;
        }
        if (ret_object)
                *ret_object = obj;
        else
                tpm_flush(t, obj);
        return 0;
}

int tpm_ek_create(struct tpm *t, tpm_object *ret_object, struct tpm_blob *ret_public, struct cvm_error *err)
{
        TPM2B_PUBLIC tmpl = ek_template();

        return create_primary(t, ESYS_TR_RH_ENDORSEMENT, &tmpl, "TPM2_CreatePrimary of the RSA-2048 EK",
                              ret_object, ret_public, err);
}

static int check_persistent_handle(uint32_t handle, struct cvm_error *err)
{
        if (handle < 0x81000000u || handle > 0x817fffffu)
                return cvm_error_set(err, -EINVAL,
                                     "0x%08x is not an owner persistent handle (0x81000000-0x817fffff)",
                                     handle);
        return 0;
}

int tpm_evict(struct tpm *t, uint32_t handle, struct cvm_error *err)
{
        ESYS_TR obj = ESYS_TR_NONE, out = ESYS_TR_NONE;
        char what[64];
        TSS2_RC rc;
        int r;

        r = check_persistent_handle(handle, err);
        if (r < 0)
                return r;
        r = resolve_handle(t, handle, "persistent handle", &obj, err);
        if (r < 0)
                return r;
        rc = Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, obj, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                               handle, &out);
        if (rc != TSS2_RC_SUCCESS) {
                close_tr(t, &obj);
                snprintf(what, sizeof(what), "TPM2_EvictControl removing 0x%08x", handle);
                return tpm_rc_error(rc, what, err);
        }
        return 0;
}

static TPM2B_PUBLIC ak_template(void)
{
        return (TPM2B_PUBLIC){
                .publicArea =
                        {
                                .type = TPM2_ALG_RSA,
                                .nameAlg = TPM2_ALG_SHA256,
                                .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                                    TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                                    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA |
                                                    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT,
                                .parameters.rsaDetail =
                                        {
                                                .symmetric = {.algorithm = TPM2_ALG_NULL},
                                                .scheme = {.scheme = TPM2_ALG_RSASSA,
                                                           .details.rsassa.hashAlg = TPM2_ALG_SHA256},
                                                .keyBits = 2048,
                                                .exponent = 0,
                                        },
                        },
        };
}

/* Creates the AK under @ek, loads it and persists it at @handle. */
static int ak_create_under(struct tpm *t, ESYS_TR ek, uint32_t handle, struct cvm_error *err)
{
        _cleanup_(freep) TPM2B_PRIVATE *priv = NULL;
        _cleanup_(freep) TPM2B_PUBLIC *pub = NULL;
        TPM2B_PUBLIC tmpl = ak_template();
        TPM2B_SENSITIVE_CREATE sens = {};
        TPM2B_DATA outside = {};
        TPML_PCR_SELECTION creation_pcr = {};
        ESYS_TR session = ESYS_TR_NONE, ak = ESYS_TR_NONE, persisted = ESYS_TR_NONE;
        TSS2_RC rc;
        int r;

        /* The EK is adminWithPolicy: every use needs a fresh PolicySecret(endorsement). */
        r = start_session(t, TPM2_SE_POLICY, &session, err);
        if (r < 0)
                return r;
        r = policy_secret_endorsement(t, session, err);
        if (r < 0)
                goto finish;
        rc = Esys_Create(t->esys, ek, session, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &outside,
                         &creation_pcr, &priv, &pub, NULL, NULL, NULL);
        if (rc != TSS2_RC_SUCCESS) {
                r = tpm_rc_error(rc, "TPM2_Create of the attestation key under the EK", err);
                goto finish;
        }
        rc = Esys_PolicyRestart(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE);
        if (rc != TSS2_RC_SUCCESS) {
                r = tpm_rc_error(rc, "TPM2_PolicyRestart", err);
                goto finish;
        }
        r = policy_secret_endorsement(t, session, err);
        if (r < 0)
                goto finish;
        rc = Esys_Load(t->esys, ek, session, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, &ak);
        if (rc != TSS2_RC_SUCCESS) {
                r = tpm_rc_error(rc, "TPM2_Load of the attestation key", err);
                goto finish;
        }
        track(t, ak);
        rc = Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                               handle, &persisted);
        if (rc != TSS2_RC_SUCCESS) {
                char what[80];

                snprintf(what, sizeof(what), "TPM2_EvictControl persisting the attestation key at 0x%08x",
                         handle);
                r = tpm_rc_error(rc, what, err);
                goto finish;
        }
        close_tr(t, &persisted);
        r = 0;
finish:
        tpm_flush(t, ak);
        flush_session(t, &session);
        return r;
}

int tpm_ak_provision(struct tpm *t, uint32_t handle, struct tpm_blob *ret_public, struct cvm_error *err)
{
        struct cvm_error probe = {};
        struct tpm_blob pub = {};
        tpm_object ek = ESYS_TR_NONE;
        int r;

        r = check_persistent_handle(handle, err);
        if (r < 0)
                return r;
        r = tpm_read_public(t, handle, &pub, &probe);
        if (r >= 0) {
                if (ret_public)
                        *ret_public = pub;
                else
                        tpm_blob_done(&pub);
                return 0;
        }
        if (r != -ENOENT)
                return cvm_error_set(err, r, "%s", probe.message);

        r = tpm_ek_create(t, &ek, NULL, err);
        if (r < 0)
                return r;
        r = ak_create_under(t, ek, handle, err);
        tpm_flush(t, ek);
        if (r < 0)
                return r;
        if (ret_public) {
                r = tpm_read_public(t, handle, ret_public, err);
                if (r < 0)
                        return r;
        }
        return 1;
}

int tpm_ephemeral_key_create(struct tpm *t, tpm_object *ret_object, struct tpm_blob *ret_public,
                             struct cvm_error *err)
{
        _cleanup_(freep) TPM2B_DIGEST *policy = NULL;
        TPM2B_PUBLIC tmpl = {
                .publicArea =
                        {
                                .type = TPM2_ALG_RSA,
                                .nameAlg = TPM2_ALG_SHA256,
                                .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                                    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_NODA |
                                                    TPMA_OBJECT_DECRYPT,
                                .parameters.rsaDetail =
                                        {
                                                .symmetric = {.algorithm = TPM2_ALG_NULL},
                                                .scheme = {.scheme = TPM2_ALG_NULL},
                                                .keyBits = 2048,
                                                .exponent = 0,
                                        },
                        },
        };
        ESYS_TR trial = ESYS_TR_NONE;
        TSS2_RC rc;
        int r;

        /* authPolicy = PolicyPCR(current sha256:0-7), computed by the TPM in a trial session. */
        r = start_session(t, TPM2_SE_TRIAL, &trial, err);
        if (r < 0)
                return r;
        r = policy_pcr_0_7(t, trial, err);
        if (r >= 0) {
                rc = Esys_PolicyGetDigest(t->esys, trial, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &policy);
                if (rc != TSS2_RC_SUCCESS)
                        r = tpm_rc_error(rc, "TPM2_PolicyGetDigest", err);
        }
        flush_session(t, &trial);
        if (r < 0)
                return r;
        tmpl.publicArea.authPolicy = *policy;
        tmpl.publicArea.unique.rsa.size = 256;

        return create_primary(t, ESYS_TR_RH_NULL, &tmpl,
                              "TPM2_CreatePrimary of the ephemeral encryption key (NULL hierarchy)",
                              ret_object, ret_public, err);
}

int tpm_certify(struct tpm *t, tpm_object object, uint32_t ak_handle, const uint8_t *qualifying,
                size_t qualifying_size, struct tpm_blob *ret_attest, struct tpm_blob *ret_sig,
                struct cvm_error *err)
{
        _cleanup_(freep) TPM2B_ATTEST *info = NULL;
        _cleanup_(freep) TPMT_SIGNATURE *sig = NULL;
        TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
        ESYS_TR ak = ESYS_TR_NONE;
        TPM2B_DATA qual;
        char what[64];
        TSS2_RC rc;
        int r;

        r = make_data(&qual, qualifying, qualifying_size, "certify qualifying data", err);
        if (r < 0)
                return r;
        r = resolve_handle(t, ak_handle, "attestation key at persistent handle", &ak, err);
        if (r < 0)
                return r;
        rc = Esys_Certify(t->esys, object, ak, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE, &qual,
                          &scheme, &info, &sig);
        close_tr(t, &ak);
        if (rc != TSS2_RC_SUCCESS) {
                snprintf(what, sizeof(what), "TPM2_Certify with the key at 0x%08x", ak_handle);
                return tpm_rc_error(rc, what, err);
        }
        return attest_and_sig(info, sig, ret_attest, ret_sig, err);
}

int tpm_rsa_decrypt(struct tpm *t, tpm_object key, enum tpm_rsa_scheme scheme, const uint8_t *in,
                    size_t in_size, struct secret_buf *ret, struct cvm_error *err)
{
        _cleanup_(freep) TPM2B_PUBLIC_KEY_RSA *msg = NULL;
        TPMT_RSA_DECRYPT s = {};
        TPM2B_PUBLIC_KEY_RSA cipher = {};
        TPM2B_DATA label = {};
        ESYS_TR session = ESYS_TR_NONE;
        uint8_t *out;
        TSS2_RC rc;
        int r;

        switch (scheme) {
        case TPM_RSA_RSAES:
                s.scheme = TPM2_ALG_RSAES;
                break;
        case TPM_RSA_OAEP_SHA1:
                s.scheme = TPM2_ALG_OAEP;
                s.details.oaep.hashAlg = TPM2_ALG_SHA1;
                break;
        case TPM_RSA_OAEP_SHA256:
                s.scheme = TPM2_ALG_OAEP;
                s.details.oaep.hashAlg = TPM2_ALG_SHA256;
                break;
        default:
                return cvm_error_set(err, -EINVAL, "unknown RSA decryption scheme %d", (int)scheme);
        }
        if (in_size == 0 || in_size > sizeof(cipher.buffer))
                return cvm_error_set(err, -EBADMSG, "RSA ciphertext of %zu bytes is out of range (1..%zu)",
                                     in_size, sizeof(cipher.buffer));
        cipher.size = (UINT16)in_size;
        memcpy(cipher.buffer, in, in_size);

        r = start_session(t, TPM2_SE_POLICY, &session, err);
        if (r < 0)
                return r;
        r = policy_pcr_0_7(t, session, err);
        if (r < 0) {
                flush_session(t, &session);
                return r;
        }
        rc = Esys_RSA_Decrypt(t->esys, key, session, ESYS_TR_NONE, ESYS_TR_NONE, &cipher, &s, &label, &msg);
        flush_session(t, &session);
        explicit_bzero(&cipher, sizeof(cipher));
        if (rc != TSS2_RC_SUCCESS) {
                uint32_t dummy;

                /* libtpms answers a padding error with TPM_RC_FAILURE without entering failure
                 * mode; a TPM that still answers a harmless command has merely refused the input. */
                if (rc_is_tpm_layer(rc) && (rc & 0xffff) == TPM2_RC_FAILURE &&
                    get_property(t, TPM2_PT_LOCKOUT_COUNTER, "TPM_PT_LOCKOUT_COUNTER", &dummy, NULL) == 0)
                        return cvm_error_set(err, -EBADMSG,
                                             "TPM2_RSA_Decrypt with the ephemeral key: the TPM rejected the "
                                             "ciphertext (bad padding or wrong scheme; TPM rc 0x%x)",
                                             (unsigned)rc);
                r = tpm_rc_error(rc, "TPM2_RSA_Decrypt with the ephemeral key", err);
                /* A wrong padding or size is a property of the ciphertext, not a TPM fault. */
                if (rc_is_tpm_layer(rc) && r == -EINVAL)
                        r = -EBADMSG;
                return r;
        }
        out = malloc(msg->size ? msg->size : 1);
        if (!out) {
                explicit_bzero(msg, sizeof(*msg));
                return cvm_error_set(err, -ENOMEM, "out of memory");
        }
        memcpy(out, msg->buffer, msg->size);
        ret->data = out;
        ret->size = msg->size;
        explicit_bzero(msg, sizeof(*msg));
        return 0;
}

/* ------------------------------------------------------------------------------------------------ */

int tpm_parse_pcr_list(const char *s, uint32_t *ret_mask)
{
        uint32_t mask = 0;
        const char *p = s;

        if (!s || !*s)
                return -EINVAL;
        if (strcmp(s, "all") == 0) {
                *ret_mask = (1u << TPM_PCR_COUNT) - 1;
                return 0;
        }
        while (*p) {
                char *end;
                unsigned long a, b;

                if (*p < '0' || *p > '9')
                        return -EINVAL;
                a = strtoul(p, &end, 10);
                b = a;
                if (*end == '-') {
                        p = end + 1;
                        if (*p < '0' || *p > '9')
                                return -EINVAL;
                        b = strtoul(p, &end, 10);
                }
                if (a >= TPM_PCR_COUNT || b >= TPM_PCR_COUNT || a > b)
                        return -EINVAL;
                for (unsigned long i = a; i <= b; i++)
                        mask |= 1u << i;
                if (*end == ',') {
                        if (end[1] == '\0')
                                return -EINVAL;
                        p = end + 1;
                } else if (*end == '\0') {
                        p = end;
                } else {
                        return -EINVAL;
                }
        }
        *ret_mask = mask;
        return 0;
}

int tpm_parse_handle(const char *s, uint32_t *ret)
{
        unsigned long long v;
        char *end;

        if (!s || !*s || *s == '-' || *s == '+')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 0);
        if (errno != 0 || *end != '\0' || v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t)v;
        return 0;
}
