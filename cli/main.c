/*
 * streams-placer: one binary, several subcommands. main() only dispatches;
 * each subcommand lives in its own cli_*.c file.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/sp_alloc.h"

static void usage(FILE *f)
{
    fputs("usage: streams-placer <command> [options]\n"
          "\n"
          "commands:\n"
          "  plan      place pending PEs offline and explain what cannot be placed\n"
          "  certs     create and inspect serving certificates\n"
          "  version   print the version\n"
          "  help      print this help\n"
          "\n",
          f);
    cli_plan_usage(f);
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    sp_alloc_install_json_hooks();
    if (!cmd) {
        usage(stderr);
        return 1;
    }
    if (strcmp(cmd, "plan") == 0)
        return cli_plan(argc - 1, argv + 1);
    if (strcmp(cmd, "certs") == 0)
        return cli_certs(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        puts(PACKAGE_STRING);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "streams-placer: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 1;
}
