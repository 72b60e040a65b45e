/*
 * `streams-placer policy check FILE`: validate a policy document (the
 * policy.json of the ConfigMap, or "-" for standard input) before it goes
 * live. A good policy is printed as the server will apply it, every field
 * with its value, defaults included; a bad one gets every error, each
 * naming the field, the value and the fix, so that one run finds them all.
 * Exit status: 0 valid, 1 invalid, unreadable or bad usage.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "kobj/kobj.h"
#include "policy/pol.h"
#include "util/sp_alloc.h"

#define POLICY_PROG "streams-placer policy"
#define MAX_LISTED 50 /* errors printed; the count is always whole */

void cli_policy_usage(FILE *f)
{
    fputs("usage: streams-placer policy check FILE\n"
          "\n"
          "Check a policy document (policy.json; - reads standard input) the way\n"
          "`serve` reads it at start and on every reload. A valid policy is\n"
          "printed with every field as it will apply, defaults included; an\n"
          "invalid one gets every error, each naming the field and the fix.\n"
          "For the policy of a running cluster:\n"
          "  kubectl -n streams-placer get configmap streams-placer-policy \\\n"
          "    -o jsonpath='{.data.policy\\.json}' | streams-placer policy check -\n"
          "\n"
          "Exit status: 0 valid, 1 invalid, unreadable or bad usage.\n",
          f);
}

static void print_policy(const char *path, const pol_policy *p)
{
    printf("%s: the policy is valid; as it applies:\n", path);
    printf("  %-28s %s\n", "tagLabelPrefix", p->tag_prefix);
    printf("  %-28s %s\n", "defaultHostPool", p->default_pool ? p->default_pool : "(none)");
    printf("  %-28s %s\n", "isolationScope", pol_isolation_scope_name(p->isolation_scope));
    printf("  %-28s %s\n", "balancing", pol_balancing_name(p->balancing));
    printf("  %-28s %d\n", "reservationTTLSeconds", p->reservation_ttl_s);
    printf("  %-28s %s\n", "schedulerName",
           p->scheduler_name ? p->scheduler_name : "(none: pods keep theirs)");
    printf("  %-28s %s\n", "mode", pol_mode_name(p->mode));
    printf("  %-28s %s\n", "gangWait", p->gang_wait ? "true" : "false");
    printf("  %-28s ", "namespaces");
    if (!p->n_namespaces)
        fputs("(every namespace)", stdout);
    for (size_t i = 0; i < p->n_namespaces; i++)
        printf("%s%s", i ? ", " : "", p->namespaces[i]);
    printf("\n  %-28s %d\n", "releasedPlacementTTLSeconds", p->released_ttl_s);
}

static int print_errors(const char *path, const sp_err *errs, size_t n)
{
    fprintf(stderr, "%s: the policy is invalid: %zu error%s\n", path, n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n && i < MAX_LISTED; i++)
        fprintf(stderr, "  %zu. %s\n", i + 1, errs[i].msg);
    if (n > MAX_LISTED)
        fprintf(stderr, "  ... and %zu more\n", n - MAX_LISTED);
    return 1;
}

static int check(const char *file)
{
    static sp_err errs[MAX_LISTED];
    sp_err err = { SP_OK, "" };
    pol_policy *p = NULL;
    char *data = NULL;
    size_t len = 0, n = 0;
    const char *path = strcmp(file, "-") ? file : "standard input";
    int status;

    if (kobj_read_file(file, POL_MAX_BYTES, &data, &len, &err)) {
        fprintf(stderr, POLICY_PROG ": %s: %s\n", path, err.msg);
        return 1;
    }
    if (pol_check(data, len, errs, MAX_LISTED, &n))
        status = print_errors(path, errs, n);
    else if (pol_parse(data, len, &p, &err))
        status = print_errors(path, &err, 1);
    else {
        print_policy(path, p);
        status = 0;
    }
    pol_free(p);
    sp_free(data);
    return status;
}

int cli_policy(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        cli_policy_usage(stdout);
        return 0;
    }
    if (argc != 3 || strcmp(argv[1], "check") != 0) {
        fputs(POLICY_PROG ": want `policy check FILE`\n\n", stderr);
        cli_policy_usage(stderr);
        return 1;
    }
    return check(argv[2]);
}
