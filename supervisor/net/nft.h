/* SPDX-License-Identifier: MIT */
#pragma once

#include "sup-error.h"

/* Runs an nftables script with the nft command (nft -f), as one transaction: all of it applies,
 * or none. The caller's process waits for it (a few milliseconds). On failure the return value is
 * -ENOENT when nft is not installed, -EPROTO when it refused the script, with nft's own message in
 * *ret_error. */
int nft_run(const char *script, SupError **ret_error);
