/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Closing device-mapper (LUKS) volumes as a reaction to an integrity violation, and finding the
 * volumes that must never be closed that way (those under /, /usr and active swap).
 */
#pragma once

#include "error.h"

/**
 * volume_protected_names() - device-mapper names of the volumes that back the root file system,
 * /usr and active swap, including every dm device below them (LUKS under LVM and the like).
 * @ret: NULL-terminated array (monitor_strv_free()); empty when none is on device-mapper.
 * Return: 0 or -ENOMEM (unreadable /proc or /sys entries are skipped).
 */
int volume_protected_names(char ***ret);

/**
 * volume_close() - crypt_deactivate() of the active device-mapper volume @name.
 * Return: 0; -ENODEV when no such volume is active; -EBUSY when it is in use; other -errno.
 */
int volume_close(const char *name, struct cvm_error *err);
