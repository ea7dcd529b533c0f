/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder until the quote parser lands; replaced by its implementation. */
#include <stdio.h>

#include "cli.h"

int cmd_quote(int argc, char *argv[])
{
        (void)argc;
        (void)argv;
        fprintf(stderr, "cvm-agent quote: not built yet\n");
        return EXIT_INTERNAL;
}
