/*
 * The subcommands of the streams-placer binary. Each takes the arguments that
 * follow its name (argv[0] is the subcommand) and returns the process exit
 * status it documents.
 */
#ifndef SP_CLI_H
#define SP_CLI_H

#include <stdio.h>

/* `streams-placer plan`: 0 all placed, 2 some unplaced, 1 bad input. */
int cli_plan(int argc, char **argv);

/* Print the usage of plan to f. */
void cli_plan_usage(FILE *f);

/* `streams-placer serve`: 0 after a clean stop, 1 when it cannot start. */
int cli_serve(int argc, char **argv);
void cli_serve_usage(FILE *f);

/* `streams-placer certs`: 0 done, 1 bad usage or failure. */
int cli_certs(int argc, char **argv);
void cli_certs_usage(FILE *f);

/* `streams-placer policy check`: 0 valid, 1 invalid or bad usage. */
int cli_policy(int argc, char **argv);
void cli_policy_usage(FILE *f);

#endif /* SP_CLI_H */
