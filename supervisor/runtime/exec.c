/* SPDX-License-Identifier: MIT */
#include "exec.h"

static const char *const exec_stream_table[_EXEC_STREAM_MAX] = {
        [EXEC_STDOUT] = "stdout",
        [EXEC_STDERR] = "stderr",
};
DEFINE_STRING_TABLE_LOOKUP(exec_stream, ExecStream, _EXEC_STREAM_MAX);
