/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder until the eventlog parser lands; replaced by its implementation. */
#include <stdio.h>

#include "cli.h"

int cmd_eventlog(int argc, char *argv[])
{
        (void)argc;
        (void)argv;
        fprintf(stderr, "cvm-agent eventlog: not built yet\n");
        return EXIT_INTERNAL;
}
