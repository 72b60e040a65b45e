/*
 * streams-placer: one binary, several subcommands. main() only dispatches
 * through the table below; each subcommand lives in its own cli_*.c file.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/sp_alloc.h"

typedef struct command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    void (*usage)(FILE *f);
} command;

static const command commands[] = {
    { "serve", "serve the scheduler extender and the admission webhook over HTTPS",
      cli_serve, cli_serve_usage },
    { "plan", "place pending PEs offline and explain what cannot be placed", cli_plan,
      cli_plan_usage },
    { "certs", "create and inspect serving certificates", cli_certs, cli_certs_usage },
    { "policy", "check a policy file before it goes live", cli_policy, cli_policy_usage },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fputs("usage: streams-placer <command> [options]\n\ncommands:\n", f);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fputs("  version   print the version\n"
          "  help      print this help, or `help COMMAND` for one command\n",
          f);
}

static int help(const char *name)
{
    for (size_t i = 0; name && i < N_COMMANDS; i++) {
        if (strcmp(name, commands[i].name) == 0) {
            commands[i].usage(stdout);
            return 0;
        }
    }
    usage(stdout);
    return name ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    sp_alloc_install_json_hooks();
    if (!cmd) {
        usage(stderr);
        return 1;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        puts(PACKAGE_STRING);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
        return help(argc > 2 ? argv[2] : NULL);
    fprintf(stderr, "streams-placer: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 1;
}
