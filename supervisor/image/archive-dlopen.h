/* SPDX-License-Identifier: MIT */
#pragma once

/* Why libarchive cannot be used (archive-dlopen.c: it is loaded at the first unpack, not linked),
 * or NULL once it is loaded whole. Loads it if that was not tried yet. */
const char *archive_dlopen_error(void);
