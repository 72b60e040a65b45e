/*
 * `streams-placer certs`: serving certificates for operators. `create` makes
 * a CA (or signs with one the operator already has) and a serving pair whose
 * SANs cover the Service's DNS names and any extra names and addresses, and
 * writes them as DIR/ca.crt, ca.key, tls.crt and tls.key, the names a
 * kubernetes.io/tls Secret uses. Existing files are not replaced without
 * --force: a CA key is not something to lose by a typo. `show` describes a
 * certificate file: subject, issuer, SANs, validity and days left. `sync`
 * runs, once, what the leading replica of `serve` runs periodically against
 * the cluster: the Secret created or renewed, the CA rotated step by step,
 * the trust bundle published to a ConfigMap and to webhook configurations;
 * it prints each thing done. All cryptography is in certs/, all of sync in
 * certmgr/; this file parses options and prints.
 * Exit status: 0 success, 1 bad input or failure.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "certmgr/certmgr.h"
#include "certs/certs.h"
#include "cli/cli.h"
#include "kapi/kapi.h"
#include "util/sp_alloc.h"
#include "util/sp_buf.h"
#include "util/sp_log.h"
#include "util/sp_str.h"

#define CERTS_EXIT_OK 0
#define CERTS_EXIT_BAD 1
#define CERTS_PROG "streams-placer certs"
#define CERTS_MAX_DAYS 36500
#define CERTS_SERVING_DAYS 365    /* the certs module's default */
#define CERTS_CA_DAYS 3650        /* a new CA outlives many serving pairs */
#define CERTS_CN_MAX 64
#define CERTS_MAX_OVERLAP_S (365 * 86400) /* sync --overlap: a year at most */

/* ------------------------------------------------------------------------ */
/* Usage                                                                      */
/* ------------------------------------------------------------------------ */

void cli_certs_usage(FILE *f)
{
    fputs("usage: streams-placer certs create --out-dir DIR\n"
          "           [--service NAME --namespace NS] [--dns NAME]... [--ip IP]...\n"
          "           [--days N] [--ca-days N] [--key-type ecdsa|rsa]\n"
          "           [--ca-cert FILE --ca-key FILE] [--force]\n"
          "       streams-placer certs show FILE\n"
          "       streams-placer certs sync --secret NAME --service NAME [--service NAME]...\n"
          "           [--webhook-config NAME]... [--ca-configmap NAME] [--namespace NS]\n"
          "           [--kubeconfig FILE] [--context NAME] [--days N] [--ca-days N]\n"
          "           [--overlap S] [--key-type ecdsa|rsa]\n"
          "\n"
          "create writes a CA (DIR/ca.crt, DIR/ca.key) unless --ca-cert and\n"
          "--ca-key give one, and a serving pair signed by it (DIR/tls.crt,\n"
          "DIR/tls.key) for the webhook and the scheduler extender. Keys are\n"
          "mode 0600; existing files are kept unless --force is given.\n"
          "\n"
          "  --out-dir DIR     where to write (created 0700 when missing)\n"
          "  --service NAME    the Service in front of streams-placer; with\n"
          "  --namespace NS    NS, covers NAME, NAME.NS, NAME.NS.svc and\n"
          "                    NAME.NS.svc.cluster.local\n"
          "  --dns NAME        one more DNS name to cover (repeatable)\n"
          "  --ip IP           an IPv4 or IPv6 address to cover (repeatable)\n"
          "  --days N          validity of the serving certificate (default 365)\n"
          "  --ca-days N       validity of a new CA (default 3650)\n"
          "  --key-type TYPE   ecdsa (P-256, the default) or rsa (2048 bits)\n"
          "  --ca-cert FILE    sign with this CA instead of creating one\n"
          "  --ca-key FILE     its key (not readable by group or others)\n"
          "  --force           replace files that already exist in DIR\n"
          "  -h, --help        print this help\n"
          "\n"
          "show prints the subject, issuer, SANs, validity and days left of the\n"
          "first certificate in FILE.\n"
          "\n"
          "sync does once, against a cluster, what the leading replica of serve does\n"
          "periodically, and prints what it did: creates the Secret (ca.crt: the CAs\n"
          "to trust, ca.key, tls.crt, tls.key) when it is missing, repairs it when it\n"
          "is malformed, renews the serving certificate when less than a third of its\n"
          "lifetime is left, rotates the CA in three steps (a new CA signs and both are\n"
          "trusted; after the overlap the serving certificate switches; after another\n"
          "the old CA goes), and makes the ConfigMap's ca.crt and the caBundle of every\n"
          "webhook of the named configurations equal the CAs to trust.\n"
          "\n"
          "  --secret NAME          the Secret holding the certificates\n"
          "  --service NAME         a Service in front of streams-placer (repeatable):\n"
          "                         the serving certificate covers NAME, NAME.NS,\n"
          "                         NAME.NS.svc and NAME.NS.svc.cluster.local\n"
          "  --webhook-config NAME  the Validating and Mutating WebhookConfigurations\n"
          "                         of this name get the caBundle (repeatable)\n"
          "  --ca-configmap NAME    a ConfigMap whose ca.crt gets the CAs to trust (the\n"
          "                         scheduler extender's caFile)\n"
          "  --namespace NS         of the Secret, ConfigMap and Services (default: the\n"
          "                         kubeconfig context's, or the service account's)\n"
          "  --kubeconfig FILE      cluster credentials; default: in-cluster service\n"
          "                         account, then $KUBECONFIG, then ~/.kube/config\n"
          "  --context NAME         kubeconfig context (default: its current-context)\n"
          "  --days N               validity of a serving certificate (default 365)\n"
          "  --ca-days N            validity of a CA (default 3650)\n"
          "  --overlap S            seconds both CAs are trusted before the serving\n"
          "                         certificate switches, and after (default 600)\n"
          "  --key-type TYPE        of new keys: ecdsa (the default) or rsa\n"
          "\n"
          "Exit status: 0 success, 1 bad input or failure.\n",
          f);
}

static int usage_error(const char *fmt, const char *what)
{
    fputs(CERTS_PROG ": ", stderr);
    fprintf(stderr, fmt, what);
    fputs("\n\n", stderr);
    cli_certs_usage(stderr);
    return CERTS_EXIT_BAD;
}

static int fail(const sp_err *err)
{
    fprintf(stderr, CERTS_PROG ": %s\n", err->msg[0] ? err->msg : sp_strerror(err->rc));
    return CERTS_EXIT_BAD;
}

static int out_of_memory(void)
{
    fputs(CERTS_PROG ": out of memory\n", stderr);
    return CERTS_EXIT_BAD;
}

/* Print s with control characters (from a hostile file) shown as '?'. */
static void put_clean(FILE *f, const char *s)
{
    for (; s && *s; s++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

/* ------------------------------------------------------------------------ */
/* create: options                                                            */
/* ------------------------------------------------------------------------ */

typedef struct create_args {
    const char *out_dir;
    const char *service;
    const char *namespace_;
    const char **dns;           /* owned array of borrowed argv strings */
    size_t n_dns;
    const char **ips;           /* the same */
    size_t n_ips;
    int days;                   /* 0: the default */
    int ca_days;
    certs_key_type key_type;
    const char *ca_cert;
    const char *ca_key;
    bool force;
} create_args;

static void create_args_free(create_args *a)
{
    sp_free(a->dns);
    sp_free(a->ips);
}

/* Store a single-valued option; refuse it twice or empty. -1 to go on. */
static int set_once(const char **slot, const char *opt, const char *value)
{
    if (*slot)
        return usage_error("--%s is given twice; give it once", opt);
    if (!value || !*value)
        return usage_error("--%s needs a value", opt);
    *slot = value;
    return -1;
}

static int set_days(int *slot, const char *opt, const char *value)
{
    int64_t v;

    if (sp_parse_int64(value, 1, CERTS_MAX_DAYS, &v)) {
        fprintf(stderr, CERTS_PROG ": --%s must be a whole number of days from 1 "
                "to %d, not '", opt, CERTS_MAX_DAYS);
        put_clean(stderr, value);
        fputs("'\n", stderr);
        return CERTS_EXIT_BAD;
    }
    *slot = (int)v;
    return -1;
}

static int set_key_type(certs_key_type *slot, const char *value)
{
    if (strcmp(value, "ecdsa") == 0)
        *slot = CERTS_KEY_ECDSA_P256;
    else if (strcmp(value, "rsa") == 0)
        *slot = CERTS_KEY_RSA_2048;
    else
        return usage_error("--key-type must be ecdsa or rsa, not '%s'", value);
    return -1;
}

/* Options that only make sense together, and something to cover. */
static int check_create(const create_args *a)
{
    if (!a->out_dir)
        return usage_error("%s", "--out-dir is required");
    if (!a->service != !a->namespace_)
        return usage_error("%s", "--service and --namespace go together; give both");
    if (!a->ca_cert != !a->ca_key)
        return usage_error("%s", "--ca-cert and --ca-key go together; give both");
    if (a->ca_cert && a->ca_days)
        return usage_error("%s", "--ca-days is for a new CA; it cannot change the "
                           "one given with --ca-cert");
    if (!a->service && !a->n_dns && !a->n_ips)
        return usage_error("%s", "nothing to cover: give --service and --namespace, "
                           "--dns or --ip");
    return -1;
}

static int parse_create_opt(int c, create_args *a, char **argv)
{
    switch (c) {
    case 'o': return set_once(&a->out_dir, "out-dir", optarg);
    case 's': return set_once(&a->service, "service", optarg);
    case 'n': return set_once(&a->namespace_, "namespace", optarg);
    case 'd': a->dns[a->n_dns++] = optarg; return -1;
    case 'i': a->ips[a->n_ips++] = optarg; return -1;
    case 'D': return set_days(&a->days, "days", optarg);
    case 'A': return set_days(&a->ca_days, "ca-days", optarg);
    case 'k': return set_key_type(&a->key_type, optarg);
    case 'c': return set_once(&a->ca_cert, "ca-cert", optarg);
    case 'K': return set_once(&a->ca_key, "ca-key", optarg);
    case 'f': a->force = true; return -1;
    case 'h': cli_certs_usage(stdout); return CERTS_EXIT_OK;
    case ':': return usage_error("%s needs a value", argv[optind - 1]);
    default: return usage_error("unknown option '%s'", argv[optind - 1]);
    }
}

/* -1 to go on, or the exit status. */
static int parse_create(int argc, char **argv, create_args *a)
{
    static const struct option longopts[] = {
        { "out-dir", required_argument, NULL, 'o' },
        { "service", required_argument, NULL, 's' },
        { "namespace", required_argument, NULL, 'n' },
        { "dns", required_argument, NULL, 'd' },
        { "ip", required_argument, NULL, 'i' },
        { "days", required_argument, NULL, 'D' },
        { "ca-days", required_argument, NULL, 'A' },
        { "key-type", required_argument, NULL, 'k' },
        { "ca-cert", required_argument, NULL, 'c' },
        { "ca-key", required_argument, NULL, 'K' },
        { "force", no_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c, status = -1;

    /* Each option takes at most one slot: argc bounds both lists. */
    a->dns = sp_calloc((size_t)argc, sizeof(*a->dns));
    a->ips = sp_calloc((size_t)argc, sizeof(*a->ips));
    if (!a->dns || !a->ips)
        return out_of_memory();
    optind = 0;     /* glibc: a full reset */
    opterr = 0;
    while (status < 0 && (c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1)
        status = parse_create_opt(c, a, argv);
    if (status >= 0)
        return status;
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    return check_create(a);
}

/* ------------------------------------------------------------------------ */
/* create: doing it                                                           */
/* ------------------------------------------------------------------------ */

/* What create makes; names and pairs owned. */
typedef struct create_job {
    char **svc_names;
    size_t n_svc;
    const char **dns;           /* owned array; strings borrowed */
    size_t n_dns;
    char cn[CERTS_CN_MAX + 1];
    certs_pair ca;
    certs_pair tls;
    bool new_ca;
} create_job;

static void create_job_free(create_job *j)
{
    sp_strv_free(j->svc_names, j->n_svc);
    sp_free(j->dns);
    certs_pair_free(&j->ca);
    certs_pair_free(&j->tls);
}

static bool listed(const char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

/* The Service's names, then --dns names, without repeats; and the CN. */
static int collect_names(const create_args *a, create_job *j)
{
    const char *cn;
    sp_rc rc;

    if (a->service) {
        rc = certs_service_names(a->service, a->namespace_, &j->svc_names, &j->n_svc);
        if (rc == SP_EINVAL)
            return usage_error("%s", "--service and --namespace must be Kubernetes "
                               "names: lowercase letters, digits and '-', at most "
                               "63, the Service name starting with a letter");
        if (rc)
            return out_of_memory();
    }
    j->dns = sp_calloc(j->n_svc + a->n_dns + 1, sizeof(*j->dns));
    if (!j->dns)
        return out_of_memory();
    for (size_t i = 0; i < j->n_svc; i++)
        j->dns[j->n_dns++] = j->svc_names[i];
    for (size_t i = 0; i < a->n_dns; i++)
        if (!listed(j->dns, j->n_dns, a->dns[i]))
            j->dns[j->n_dns++] = a->dns[i];
    /* The CN is informative only (clients check the SANs). */
    cn = j->n_svc > 2 ? j->svc_names[2] : j->n_dns ? j->dns[0] : a->ips[0];
    if (strlen(cn) > CERTS_CN_MAX)
        cn = j->n_svc ? j->svc_names[0] : "streams-placer";
    if (snprintf(j->cn, sizeof(j->cn), "%s", cn) < 0)
        j->cn[0] = '\0';
    return -1;
}

/* dir/file in a new string, or NULL (reported) when memory runs out. */
static char *path_of(const char *dir, const char *file)
{
    sp_buf b;
    char *s;

    sp_buf_init(&b, (size_t)-2);
    s = sp_buf_printf(&b, "%s/%s", dir, file) == SP_OK ? sp_buf_take(&b) : NULL;
    sp_buf_free(&b);
    if (!s)
        fputs(CERTS_PROG ": out of memory\n", stderr);
    return s;
}

/* None of the files about to be written exists yet, unless --force. */
static int check_targets(const create_args *a, bool new_ca)
{
    static const char *const files[] = { "tls.crt", "tls.key", "ca.crt", "ca.key" };
    struct stat st;

    for (size_t i = 0; i < (new_ca ? 4u : 2u) && !a->force; i++) {
        char *path = path_of(a->out_dir, files[i]);
        bool exists = path && stat(path, &st) == 0;

        if (exists)
            fprintf(stderr, CERTS_PROG ": %s already exists; give --force to "
                    "replace it, or another --out-dir\n", path);
        sp_free(path);
        if (!path || exists)
            return CERTS_EXIT_BAD;
    }
    return -1;
}

/* The output directory, made 0700 when missing. */
static int make_dir(const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, CERTS_PROG ": %s: cannot create the directory: %s\n", dir,
                strerror(errno));
        return CERTS_EXIT_BAD;
    }
    return -1;
}

/* Tell the operator when the CA cut the serving certificate short. */
static void warn_if_capped(const create_job *j, int days)
{
    int64_t not_after;
    sp_err err;

    if (certs_not_after(j->tls.cert_pem, &not_after, &err) != SP_OK)
        return;
    if (not_after + 3600 < (int64_t)time(NULL) + (int64_t)days * 86400)
        fprintf(stderr, CERTS_PROG ": warning: the serving certificate expires "
                "with its CA, in %lld days rather than %d; renew the CA first\n",
                (long long)((not_after - (int64_t)time(NULL)) / 86400), days);
}

static int make_certs(const create_args *a, create_job *j)
{
    certs_spec spec;
    sp_err err;

    sp_err_clear(&err);
    memset(&spec, 0, sizeof(spec));
    spec.key_type = a->key_type;
    if (a->ca_cert) {
        if (certs_load_pair(a->ca_cert, a->ca_key, &j->ca, &err))
            return fail(&err);
    } else {
        char cn[CERTS_CN_MAX + 1];

        if (snprintf(cn, sizeof(cn), "streams-placer-ca@%lld",
                     (long long)time(NULL)) < 0)
            cn[0] = '\0';
        spec.common_name = cn;
        spec.days = a->ca_days ? a->ca_days : CERTS_CA_DAYS;
        if (certs_make_ca(&spec, &j->ca, &err))
            return fail(&err);
    }
    spec.common_name = j->cn;
    spec.dns = j->dns;
    spec.n_dns = j->n_dns;
    spec.ips = a->ips;
    spec.n_ips = a->n_ips;
    spec.days = a->days;
    if (certs_make_serving(&j->ca, &spec, &j->tls, &err))
        return fail(&err);
    warn_if_capped(j, a->days ? a->days : CERTS_SERVING_DAYS);
    return -1;
}

static void print_paths(const create_args *a)
{
    const char *dir = a->out_dir;
    const char *sep = dir[strlen(dir) - 1] == '/' ? "" : "/";

    if (a->ca_cert)
        printf("CA certificate:      %s (given)\n", a->ca_cert);
    else
        printf("CA certificate:      %s%sca.crt\nCA key:              %s%sca.key\n",
               dir, sep, dir, sep);
    printf("serving certificate: %s%stls.crt\nserving key:         %s%stls.key\n",
           dir, sep, dir, sep);
}

static int run_create(const create_args *a)
{
    create_job j;
    sp_err err;
    int status;

    memset(&j, 0, sizeof(j));
    sp_err_clear(&err);
    j.new_ca = !a->ca_cert;
    status = collect_names(a, &j);
    if (status < 0)
        status = check_targets(a, j.new_ca);
    if (status < 0)
        status = make_certs(a, &j);
    if (status < 0)
        status = make_dir(a->out_dir);
    if (status < 0 && j.new_ca && certs_write_pair(a->out_dir, "ca", &j.ca, &err))
        status = fail(&err);
    if (status < 0 && certs_write_pair(a->out_dir, "tls", &j.tls, &err))
        status = fail(&err);
    if (status < 0) {
        print_paths(a);
        status = CERTS_EXIT_OK;
    }
    create_job_free(&j);
    return status;
}

static int cmd_create(int argc, char **argv)
{
    create_args a;
    int status;

    memset(&a, 0, sizeof(a));
    status = parse_create(argc, argv, &a);
    if (status < 0)
        status = run_create(&a);
    create_args_free(&a);
    return status;
}

/* ------------------------------------------------------------------------ */
/* show                                                                       */
/* ------------------------------------------------------------------------ */

static void print_time(const char *label, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char text[64];

    if (!gmtime_r(&tt, &tm) ||
        !strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S UTC", &tm))
        printf("%s%lld\n", label, (long long)t);
    else
        printf("%s%s\n", label, text);
}

static void print_list(const char *label, char *const *v, size_t n)
{
    fputs(label, stdout);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", " : "", stdout);
        put_clean(stdout, v[i]);
    }
    fputs(n ? "\n" : "(none)\n", stdout);
}

static void print_info(const certs_info *info)
{
    int64_t now = (int64_t)time(NULL);

    fputs("subject:      ", stdout);
    put_clean(stdout, info->subject);
    fputs("\nissuer:       ", stdout);
    put_clean(stdout, info->issuer);
    printf("\nserial:       %s\nkey:          %s\nCA:           %s\n", info->serial,
           info->key, info->is_ca ? "yes" : "no");
    print_list("DNS names:    ", info->dns, info->n_dns);
    print_list("IP addresses: ", info->ips, info->n_ips);
    print_time("not before:   ", info->not_before);
    print_time("not after:    ", info->not_after);
    if (now >= info->not_after)
        printf("days left:    0 (expired %lld days ago)\n",
               (long long)((now - info->not_after) / 86400));
    else if (now < info->not_before)
        printf("days left:    %lld (not valid yet)\n",
               (long long)((info->not_after - now) / 86400));
    else
        printf("days left:    %lld\n", (long long)((info->not_after - now) / 86400));
}

static int cmd_show(int argc, char **argv)
{
    certs_info info;
    char *pem = NULL;
    sp_err err;
    int status = CERTS_EXIT_OK;

    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        cli_certs_usage(stdout);
        return CERTS_EXIT_OK;
    }
    if (argc != 2)
        return usage_error("%s", "show takes one certificate file");
    sp_err_clear(&err);
    memset(&info, 0, sizeof(info));
    if (certs_read_cert(argv[1], &pem, &err) || certs_describe(pem, &info, &err))
        status = fail(&err);
    else
        print_info(&info);
    certs_info_free(&info);
    sp_free(pem);
    return status;
}

/* ------------------------------------------------------------------------ */
/* sync: options                                                              */
/* ------------------------------------------------------------------------ */

typedef struct sync_args {
    const char *kubeconfig;
    const char *context;
    const char *namespace_;
    const char *secret;
    const char *configmap;
    const char **webhooks;      /* owned array of borrowed argv strings */
    size_t n_webhooks;
    const char **services;      /* the same */
    size_t n_services;
    int days;                   /* 0: certmgr's default */
    int ca_days;
    int64_t overlap_s;
    certs_key_type key_type;
} sync_args;

static int set_overlap(int64_t *slot, const char *value)
{
    if (sp_parse_int64(value, 1, CERTS_MAX_OVERLAP_S, slot)) {
        fprintf(stderr, CERTS_PROG ": --overlap must be a whole number of seconds from 1 "
                "to %d, not '", CERTS_MAX_OVERLAP_S);
        put_clean(stderr, value);
        fputs("'\n", stderr);
        return CERTS_EXIT_BAD;
    }
    return -1;
}

static int parse_sync_opt(int c, sync_args *a, char **argv)
{
    switch (c) {
    case 'K': return set_once(&a->kubeconfig, "kubeconfig", optarg);
    case 'C': return set_once(&a->context, "context", optarg);
    case 'n': return set_once(&a->namespace_, "namespace", optarg);
    case 'S': return set_once(&a->secret, "secret", optarg);
    case 'M': return set_once(&a->configmap, "ca-configmap", optarg);
    case 'W': a->webhooks[a->n_webhooks++] = optarg; return -1;
    case 's': a->services[a->n_services++] = optarg; return -1;
    case 'D': return set_days(&a->days, "days", optarg);
    case 'A': return set_days(&a->ca_days, "ca-days", optarg);
    case 'O': return set_overlap(&a->overlap_s, optarg);
    case 'k': return set_key_type(&a->key_type, optarg);
    case 'h': cli_certs_usage(stdout); return CERTS_EXIT_OK;
    case ':': return usage_error("%s needs a value", argv[optind - 1]);
    default: return usage_error("unknown option '%s'", argv[optind - 1]);
    }
}

/* -1 to go on, or the exit status. */
static int parse_sync(int argc, char **argv, sync_args *a)
{
    static const struct option longopts[] = {
        { "kubeconfig", required_argument, NULL, 'K' },
        { "context", required_argument, NULL, 'C' },
        { "namespace", required_argument, NULL, 'n' },
        { "secret", required_argument, NULL, 'S' },
        { "ca-configmap", required_argument, NULL, 'M' },
        { "webhook-config", required_argument, NULL, 'W' },
        { "service", required_argument, NULL, 's' },
        { "days", required_argument, NULL, 'D' },
        { "ca-days", required_argument, NULL, 'A' },
        { "overlap", required_argument, NULL, 'O' },
        { "key-type", required_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c, status = -1;

    /* Each option takes at most one slot: argc bounds both lists. */
    a->webhooks = sp_calloc((size_t)argc, sizeof(*a->webhooks));
    a->services = sp_calloc((size_t)argc, sizeof(*a->services));
    if (!a->webhooks || !a->services)
        return out_of_memory();
    optind = 0;     /* glibc: a full reset */
    opterr = 0;
    while (status < 0 && (c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1)
        status = parse_sync_opt(c, a, argv);
    if (status >= 0)
        return status;
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!a->secret)
        return usage_error("%s", "--secret is required");
    if (!a->n_services)
        return usage_error("%s", "--service is required: the serving certificate must "
                           "cover the Service clients call");
    return -1;
}

/* ------------------------------------------------------------------------ */
/* sync: doing it                                                             */
/* ------------------------------------------------------------------------ */

/* certmgr's report: one line per thing done, counted in *ctx. */
static void print_done(void *ctx, const char *line)
{
    ++*(size_t *)ctx;
    put_clean(stdout, line);
    fputc('\n', stdout);
}

static void print_serving(const certs_pair *pair)
{
    certs_info info;
    sp_err err;

    if (certs_describe(pair->cert_pem, &info, &err) != SP_OK) {
        fail(&err);
        return;
    }
    print_time("serving certificate valid until ", info.not_after);
    certs_info_free(&info);
}

/* load (creating the Secret when missing) and sync, once, at the wall clock. */
static int sync_once(kapi *api, const sync_args *a)
{
    certmgr_config cfg = { .api = api };
    certs_pair loaded = { NULL, NULL }, synced = { NULL, NULL };
    int64_t now = (int64_t)time(NULL);
    certmgr *m = NULL;
    size_t told = 0;
    bool changed = false;
    sp_err err;
    int status = CERTS_EXIT_OK;

    sp_err_clear(&err);
    cfg.namespace_ = a->namespace_;
    cfg.secret = a->secret;
    cfg.ca_configmap = a->configmap;
    cfg.webhook_configs = a->webhooks;
    cfg.n_webhook_configs = a->n_webhooks;
    cfg.services = a->services;
    cfg.n_services = a->n_services;
    cfg.serving_days = a->days;
    cfg.ca_days = a->ca_days;
    cfg.overlap_s = a->overlap_s;
    cfg.key_type = a->key_type;
    cfg.report = print_done;
    cfg.report_ctx = &told;
    if (certmgr_new(&cfg, &m, &err) || certmgr_load(m, now, &loaded, &err) ||
        certmgr_sync(m, now, &changed, &synced, &err)) {
        status = fail(&err);
    } else {
        if (!told)
            printf("Secret %s/%s is up to date: nothing to do\n",
                   a->namespace_ ? a->namespace_ : kapi_namespace(api), a->secret);
        print_serving(changed ? &synced : &loaded);
    }
    certs_pair_free(&loaded);
    certs_pair_free(&synced);
    certmgr_free(m);
    return status;
}

static int run_sync(const sync_args *a)
{
    kapi_config kc = { .kubeconfig = a->kubeconfig, .context = a->context };
    kapi *api = NULL;
    sp_err err;
    int status;

    /* every certmgr line is printed; the log keeps warnings and errors */
    sp_log_set_level(SP_LOG_WARN);
    sp_err_clear(&err);
    if (kapi_new(&kc, &api, &err))
        return fail(&err);
    status = sync_once(api, a);
    kapi_free(api);
    return status;
}

static int cmd_sync(int argc, char **argv)
{
    sync_args a;
    int status;

    memset(&a, 0, sizeof(a));
    status = parse_sync(argc, argv, &a);
    if (status < 0)
        status = run_sync(&a);
    sp_free(a.webhooks);
    sp_free(a.services);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Dispatch                                                                   */
/* ------------------------------------------------------------------------ */

int cli_certs(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;

    if (!sub)
        return usage_error("%s", "a subcommand is required: create, show or sync");
    if (strcmp(sub, "create") == 0)
        return cmd_create(argc - 1, argv + 1);
    if (strcmp(sub, "show") == 0)
        return cmd_show(argc - 1, argv + 1);
    if (strcmp(sub, "sync") == 0)
        return cmd_sync(argc - 1, argv + 1);
    if (strcmp(sub, "help") == 0 || strcmp(sub, "-h") == 0 ||
        strcmp(sub, "--help") == 0) {
        cli_certs_usage(stdout);
        return CERTS_EXIT_OK;
    }
    return usage_error("unknown subcommand '%s' (create, show or sync)", sub);
}
