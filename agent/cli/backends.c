/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The attestation backends built into the cvm-agent binary (backend.h). The Azure (MAA + Key
 * Vault SKR) and Trustee (KBS) implementations register here when they land, e.g.
 *     extern const struct backend_ops azure_backend, trustee_backend;
 *     ... = { &azure_backend, &trustee_backend, NULL };
 */
#include <stddef.h>

#include "unlock-backend.h"
#include "luks-cli.h"

const struct backend_ops *const cli_backends[] = {NULL};
