/*
 * `streams-placer serve`: the HTTPS server. Standalone (the embedded
 * default): policy from --policy or built in, nodes from extender requests
 * (or --nodes), HostPools from admission (or --hostpools), decisions in the
 * store under --state-dir, and a self-signed certificate created there on
 * first start when none is given. In a cluster, --tls-secret keeps the
 * certificates in a Secret instead, rotated and published by the leader
 * (certmgr). The routes are the scheduler extender
 * (/scheduler/filter, prioritize, bind), the admission webhook
 * (/webhook/validate, mutate), and /healthz, /readyz, /metrics. SIGTERM or
 * SIGINT stops it gracefully.
 */
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "cli/cli.h"
#include "util/sp_alloc.h"
#include "util/sp_log.h"
#include "util/sp_str.h"

#define DEFAULT_LISTEN "127.0.0.1:8443"
#define DEFAULT_CLUSTER_LISTEN "0.0.0.0:8443"
#define DEFAULT_STATE_DIR "/var/lib/streams-placer"
#define DEFAULT_DRAIN_S 10

typedef enum serve_mode { MODE_AUTO, MODE_STANDALONE, MODE_CLUSTER } serve_mode;

typedef struct serve_args {
    const char *listen, *insecure_listen;
    serve_mode mode;
    const char *kubeconfig, *context;
    bool leader_elect;
    const char *lease_name, *lease_namespace;
    int64_t lease_duration_s, renew_deadline_s, retry_period_s;
    const char *cert, *key, *client_ca;
    int64_t reload_period_s;
    const char *tls_secret, *ca_configmap;
    const char **cert_services, **webhook_configs; /* argc slots each */
    size_t n_cert_services, n_webhook_configs;
    int64_t cert_days, ca_days, cert_overlap_s, cert_check_s;
    const char *state_dir;
    const char *policy, *nodes, *hostpools, *pods;
    const char *port_file;
    int64_t max_body, max_extender_body, max_header;
    int64_t max_conns, max_conns_per_ip, conn_timeout_s;
    int64_t threads;
    int64_t drain_s;
} serve_args;

void cli_serve_usage(FILE *f)
{
    fputs("usage: streams-placer serve [--listen ADDR:PORT] [--tls-cert FILE --tls-key FILE]\n"
          "           [--client-ca FILE] [--reload-period S]\n"
          "           [--state-dir DIR] [--policy FILE] [--nodes FILE] [--hostpools FILE]\n"
          "           [--pods FILE]\n"
          "           [--max-body BYTES] [--max-extender-body BYTES] [--max-header-bytes BYTES]\n"
          "           [--max-connections N] [--max-connections-per-ip N]\n"
          "           [--connection-timeout S] [--insecure-listen ADDR:PORT]\n"
          "           [--threads N] [--drain-timeout SECONDS]\n"
          "           [--log-level debug|info|warn|error] [--port-file FILE]\n"
          "           [--mode auto|standalone|cluster] [--kubeconfig FILE] [--context NAME]\n"
          "           [--no-leader-elect] [--lease-name NAME] [--lease-namespace NS]\n"
          "           [--lease-duration S] [--renew-deadline S] [--retry-period S]\n"
          "           [--tls-secret NAME --cert-service NAME... [--webhook-config NAME]...\n"
          "            [--ca-configmap NAME] [--cert-days N] [--ca-days N]\n"
          "            [--cert-overlap S] [--cert-check-period S]]\n"
          "\n"
          "Serve the scheduler extender and the admission webhook over HTTPS.\n"
          "\n"
          "  --listen ADDR:PORT     address and port (default " DEFAULT_LISTEN " standalone,\n"
          "                         " DEFAULT_CLUSTER_LISTEN " in a cluster; port 0: any)\n"
          "  --tls-cert, --tls-key  serving certificate and key (PEM); without them a\n"
          "                         self-signed pair is created in the state directory;\n"
          "                         a changed pair is served from the next handshake on\n"
          "  --client-ca FILE       callers must present a client certificate signed by a\n"
          "                         CA in FILE (PEM); default: no client certificates\n"
          "  --reload-period S      look for changed certificate, key and policy files\n"
          "                         every S seconds (default 2)\n"
          "  --state-dir DIR        the embedded store and generated certificates\n"
          "                         (default " DEFAULT_STATE_DIR ")\n"
          "  --policy FILE          the policy (policy.json); default: built-in. Reloaded\n"
          "                         when it changes; an invalid one keeps the last good\n"
          "  --nodes FILE           Node objects (kubectl get nodes -o json), for\n"
          "                         nodeCacheCapable extender calls\n"
          "  --hostpools FILE       HostPool objects (kubectl get hostpools -A -o json)\n"
          "  --pods FILE            Pod objects (kubectl get pods -A -o json): bound ones\n"
          "                         use capacity, PE pods are known before they arrive\n"
          "  --max-body BYTES       request body cap of the webhook and the rest\n"
          "                         (default 4194304; an UPDATE review carries two pods)\n"
          "  --max-extender-body BYTES  request body cap of /scheduler/* (default\n"
          "                         67108864: without nodeCacheCapable every call carries\n"
          "                         a NodeList of every candidate node)\n"
          "  --max-header-bytes BYTES  request line and headers (default 32768; longer:\n"
          "                         414 or 431)\n"
          "  --max-connections N    connections at once (default 1024; more are closed)\n"
          "  --max-connections-per-ip N  from one address (default 256)\n"
          "  --connection-timeout S close a connection idle (or stalled mid-request) for\n"
          "                         S seconds (default 60)\n"
          "  --insecure-listen ADDR:PORT  ALSO serve every route over plain HTTP there\n"
          "                         (off by default: nothing is served unencrypted)\n"
          "  --threads N            a fixed pool of N server threads (default: a thread\n"
          "                         per connection, spread over the CPUs by the kernel)\n"
          "  --drain-timeout S      on SIGTERM, let requests finish for S seconds (default 10)\n"
          "  --log-level LEVEL      debug, info (default), warn or error\n"
          "  --port-file FILE       write the port listened on to FILE once serving (and\n"
          "                         the plaintext one on a second line)\n"
          "\n"
          "In a cluster (--mode cluster, or auto: with --kubeconfig or inside a pod):\n"
          "  --kubeconfig FILE      cluster credentials; default: in-cluster service account,\n"
          "                         then $KUBECONFIG, then ~/.kube/config\n"
          "  --context NAME         kubeconfig context (default: its current-context)\n"
          "  --no-leader-elect      act as the only replica (default: elect a leader)\n"
          "  --lease-name NAME      Lease for leader election (default streams-placer)\n"
          "  --lease-namespace NS   its namespace (default: the service account's)\n"
          "  --lease-duration S     how long a leader's Lease holds (default 15)\n"
          "  --renew-deadline S     a leader that cannot renew within S stops (default 10)\n"
          "  --retry-period S       how often Leases are tried and renewed (default 2)\n"
          "\n"
          "Certificates kept in the cluster (instead of --tls-cert and --tls-key):\n"
          "  --tls-secret NAME      the Secret of the CA and serving pair (ca.crt, ca.key,\n"
          "                         tls.crt, tls.key), created when missing; the leader\n"
          "                         renews the serving certificate with a third of its\n"
          "                         life left and rotates the CA with an overlap; every\n"
          "                         replica serves the Secret's pair from the next handshake\n"
          "  --cert-service NAME    a Service the certificate must cover as NAME, NAME.NS,\n"
          "                         NAME.NS.svc, NAME.NS.svc.cluster.local (repeatable)\n"
          "  --webhook-config NAME  Validating and Mutating WebhookConfigurations whose\n"
          "                         caBundle is kept equal to the CAs to trust (repeatable)\n"
          "  --ca-configmap NAME    a ConfigMap whose ca.crt is kept equal to them (the\n"
          "                         extender's caFile for kube-scheduler)\n"
          "  --cert-days N          serving certificate validity (default 365)\n"
          "  --ca-days N            CA validity (default 3650)\n"
          "  --cert-overlap S       both CAs are trusted S seconds before the serving\n"
          "                         certificate switches to the new one, and after\n"
          "                         (default 600)\n"
          "  --cert-check-period S  how often the Secret is synced or re-read (default 60;\n"
          "                         under --cert-overlap)\n",
          f);
}

/* ------------------------------------------------------------------------ */
/* Arguments                                                                  */
/* ------------------------------------------------------------------------ */

static int usage_error(const char *message, const char *what)
{
    fprintf(stderr, "streams-placer serve: %s%s%s\n\n", message, what ? ": " : "",
            what ? what : "");
    cli_serve_usage(stderr);
    return 1;
}

static int parse_number(const char *opt, const char *value, int64_t min, int64_t max,
                        int64_t *out)
{
    char msg[128];

    if (!sp_parse_int64(value, min, max, out))
        return 0;
    if (snprintf(msg, sizeof(msg), "%s wants an integer from %lld to %lld", opt,
                 (long long)min, (long long)max) < 0)
        msg[0] = '\0';
    return usage_error(msg, value);
}

static int parse_option(int opt, const char *value, serve_args *a)
{
    int level;

    switch (opt) {
    case 'l': a->listen = value; return 0;
    case 'c': a->cert = value; return 0;
    case 'k': a->key = value; return 0;
    case 'A': a->client_ca = value; return 0;
    case 'r': return parse_number("--reload-period", value, 1, 3600, &a->reload_period_s);
    case 's': a->state_dir = value; return 0;
    case 'p': a->policy = value; return 0;
    case 'n': a->nodes = value; return 0;
    case 'o': a->hostpools = value; return 0;
    case 'P': a->pods = value; return 0;
    case 'f': a->port_file = value; return 0;
    case 'b': return parse_number("--max-body", value, 1024, 1LL << 30, &a->max_body);
    case 'B': return parse_number("--max-extender-body", value, 1024, 1LL << 30,
                                  &a->max_extender_body);
    case 'H': return parse_number("--max-header-bytes", value, 4096, 1LL << 20, &a->max_header);
    case 'x': return parse_number("--max-connections", value, 1, 65536, &a->max_conns);
    case 'X': return parse_number("--max-connections-per-ip", value, 1, 65536,
                                  &a->max_conns_per_ip);
    case 'O': return parse_number("--connection-timeout", value, 1, 3600, &a->conn_timeout_s);
    case 'I': a->insecure_listen = value; return 0;
    case 't': return parse_number("--threads", value, 1, 256, &a->threads);
    case 'd': return parse_number("--drain-timeout", value, 0, 3600, &a->drain_s);
    case 'm':
        if (strcmp(value, "auto") && strcmp(value, "standalone") && strcmp(value, "cluster"))
            return usage_error("--mode wants auto, standalone or cluster", value);
        a->mode = !strcmp(value, "cluster") ? MODE_CLUSTER
                  : !strcmp(value, "standalone") ? MODE_STANDALONE : MODE_AUTO;
        return 0;
    case 'K': a->kubeconfig = value; return 0;
    case 'C': a->context = value; return 0;
    case 'E': a->leader_elect = false; return 0;
    case 'L': a->lease_name = value; return 0;
    case 'N': a->lease_namespace = value; return 0;
    case 'D': return parse_number("--lease-duration", value, 2, 3600, &a->lease_duration_s);
    case 'R': return parse_number("--renew-deadline", value, 1, 3600, &a->renew_deadline_s);
    case 'T': return parse_number("--retry-period", value, 1, 3600, &a->retry_period_s);
    case 'S': a->tls_secret = value; return 0;
    case 'V': a->cert_services[a->n_cert_services++] = value; return 0;
    case 'W': a->webhook_configs[a->n_webhook_configs++] = value; return 0;
    case 'M': a->ca_configmap = value; return 0;
    case 'y': return parse_number("--cert-days", value, 1, 36500, &a->cert_days);
    case 'Y': return parse_number("--ca-days", value, 1, 36500, &a->ca_days);
    case 'u': return parse_number("--cert-overlap", value, 60, 365 * 86400, &a->cert_overlap_s);
    case 'U': return parse_number("--cert-check-period", value, 1, 86400, &a->cert_check_s);
    case 'v':
        if ((level = sp_log_level_parse(value)) < 0)
            return usage_error("--log-level wants debug, info, warn or error", value);
        sp_log_set_level((sp_log_level)level);
        return 0;
    default:
        return usage_error("unknown option", NULL);
    }
}

/* The options of --tls-secret go with it, and it with cluster mode. */
static int check_cert_secret(const serve_args *a)
{
    bool secret_opts = a->n_cert_services || a->n_webhook_configs || a->ca_configmap ||
                       a->cert_days || a->ca_days || a->cert_overlap_s || a->cert_check_s;

    if (!a->tls_secret)
        return secret_opts ? usage_error("--cert-service, --webhook-config, --ca-configmap "
                                         "and --cert-*/--ca-days need --tls-secret", NULL)
                           : 0;
    if (a->cert)
        return usage_error("--tls-secret and --tls-cert are exclusive", NULL);
    if (a->mode != MODE_CLUSTER)
        return usage_error("--tls-secret needs cluster mode (--mode cluster, --kubeconfig, "
                           "or running in a pod)", NULL);
    if (!a->n_cert_services)
        return usage_error("--tls-secret needs --cert-service: the certificate must cover "
                           "the Service callers use", NULL);
    return 0;
}

static int parse_args(int argc, char **argv, serve_args *a)
{
    static const struct option opts[] = {
        { "listen", required_argument, NULL, 'l' },    { "tls-cert", required_argument, NULL, 'c' },
        { "tls-key", required_argument, NULL, 'k' },   { "state-dir", required_argument, NULL, 's' },
        { "client-ca", required_argument, NULL, 'A' }, { "reload-period", required_argument, NULL, 'r' },
        { "policy", required_argument, NULL, 'p' },    { "nodes", required_argument, NULL, 'n' },
        { "hostpools", required_argument, NULL, 'o' }, { "pods", required_argument, NULL, 'P' },
        { "max-body", required_argument, NULL, 'b' },
        { "max-extender-body", required_argument, NULL, 'B' },
        { "max-header-bytes", required_argument, NULL, 'H' },
        { "max-connections", required_argument, NULL, 'x' },
        { "max-connections-per-ip", required_argument, NULL, 'X' },
        { "connection-timeout", required_argument, NULL, 'O' },
        { "insecure-listen", required_argument, NULL, 'I' },
        { "threads", required_argument, NULL, 't' },   { "drain-timeout", required_argument, NULL, 'd' },
        { "log-level", required_argument, NULL, 'v' }, { "port-file", required_argument, NULL, 'f' },
        { "mode", required_argument, NULL, 'm' },       { "kubeconfig", required_argument, NULL, 'K' },
        { "context", required_argument, NULL, 'C' },    { "no-leader-elect", no_argument, NULL, 'E' },
        { "lease-name", required_argument, NULL, 'L' }, { "lease-namespace", required_argument, NULL, 'N' },
        { "lease-duration", required_argument, NULL, 'D' },
        { "renew-deadline", required_argument, NULL, 'R' },
        { "retry-period", required_argument, NULL, 'T' },
        { "tls-secret", required_argument, NULL, 'S' },
        { "cert-service", required_argument, NULL, 'V' },
        { "webhook-config", required_argument, NULL, 'W' },
        { "ca-configmap", required_argument, NULL, 'M' },
        { "cert-days", required_argument, NULL, 'y' },
        { "ca-days", required_argument, NULL, 'Y' },
        { "cert-overlap", required_argument, NULL, 'u' },
        { "cert-check-period", required_argument, NULL, 'U' },
        { "help", no_argument, NULL, 'h' },            { NULL, 0, NULL, 0 },
    };
    int opt;

    memset(a, 0, sizeof(*a));
    a->leader_elect = true;
    a->lease_duration_s = 15;
    a->renew_deadline_s = 10;
    a->retry_period_s = 2;
    a->state_dir = DEFAULT_STATE_DIR;
    a->drain_s = DEFAULT_DRAIN_S;
    a->reload_period_s = 2;
    /* each option fills one slot at most: argc bounds the lists */
    a->cert_services = sp_calloc((size_t)argc, sizeof(*a->cert_services));
    a->webhook_configs = sp_calloc((size_t)argc, sizeof(*a->webhook_configs));
    if (!a->cert_services || !a->webhook_configs)
        return usage_error("out of memory", NULL);
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (opt == 'h') {
            cli_serve_usage(stdout);
            return -1;
        }
        if (opt == '?' || opt == ':')
            return usage_error("unknown option or missing value", argv[optind - 1]);
        if (parse_option(opt, optarg, a))
            return 1;
    }
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);
    if (!a->cert != !a->key)
        return usage_error("--tls-cert and --tls-key go together", NULL);
    if (a->retry_period_s >= a->renew_deadline_s || a->renew_deadline_s >= a->lease_duration_s)
        return usage_error("leader election wants --retry-period < --renew-deadline < "
                           "--lease-duration", NULL);
    if (a->mode == MODE_AUTO)
        a->mode = a->kubeconfig || getenv("KUBERNETES_SERVICE_HOST") ? MODE_CLUSTER
                                                                     : MODE_STANDALONE;
    if (!a->listen)
        a->listen = a->mode == MODE_CLUSTER ? DEFAULT_CLUSTER_LISTEN : DEFAULT_LISTEN;
    return check_cert_secret(a);
}

/* Split "ADDR:PORT" or "[ADDR6]:PORT". */
static sp_rc split_listen(const char *flag, const char *text, char *addr, size_t len,
                          uint16_t *port, sp_err *err)
{
    const char *colon = strrchr(text, ':');
    const char *start = text, *end = colon;
    int64_t p;

    if (!colon || sp_parse_int64(colon + 1, 0, 65535, &p))
        return sp_err_set(err, SP_EINVAL,
                          "%s \"%s\": use ADDR:PORT, e.g. 127.0.0.1:8443 or [::]:8443",
                          flag, text);
    if (*start == '[' && end > start && end[-1] == ']') {
        start++;
        end--;
    }
    if ((size_t)(end - start) >= len || end == start)
        return sp_err_set(err, SP_EINVAL, "%s \"%s\": the address is missing or too long",
                          flag, text);
    memcpy(addr, start, (size_t)(end - start));
    addr[end - start] = '\0';
    *port = (uint16_t)p;
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Running                                                                    */
/* ------------------------------------------------------------------------ */

/* The HTTPS port, and on a second line the plaintext one when there is
 * one; written whole (a temporary file renamed) for whoever polls it. */
static void write_port_file(const char *path, const app *ap)
{
    char tmp[4096];
    FILE *f = NULL;
    bool ok = snprintf(tmp, sizeof(tmp), "%s.tmp", path) < (int)sizeof(tmp) &&
              (f = fopen(tmp, "w")) && fprintf(f, "%u\n", (unsigned)app_port(ap)) > 0 &&
              (!app_insecure_port(ap) || fprintf(f, "%u\n", (unsigned)app_insecure_port(ap)) > 0);

    if (f && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0)
        sp_log(SP_LOG_WARN, "port_file_not_written", "path", path, NULL);
}

/* Block the stop signals in every thread, so that main can wait for them. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static sp_rc start(const serve_args *a, app **out, sp_err *err)
{
    app_config cfg = { 0 };
    char addr[128], insecure[128];
    sp_rc rc = split_listen("--listen", a->listen, addr, sizeof(addr), &cfg.port, err);

    if (!rc && a->insecure_listen) {
        rc = split_listen("--insecure-listen", a->insecure_listen, insecure, sizeof(insecure),
                          &cfg.insecure_port, err);
        cfg.insecure_address = insecure;
    }
    cfg.address = addr;
    cfg.cert_path = a->cert;
    cfg.key_path = a->key;
    cfg.client_ca_path = a->client_ca;
    cfg.reload_period_ms = (unsigned)a->reload_period_s * 1000;
    cfg.svc.state_dir = a->state_dir;
    cfg.svc.policy_path = a->policy;
    cfg.svc.nodes_path = a->nodes;
    cfg.svc.hostpools_path = a->hostpools;
    cfg.svc.pods_path = a->pods;
    cfg.limits.max_body = (size_t)a->max_body;
    cfg.limits.max_header = (size_t)a->max_header;
    cfg.limits.conn_limit = (unsigned)a->max_conns;
    cfg.limits.per_ip_limit = (unsigned)a->max_conns_per_ip;
    cfg.limits.conn_timeout_s = (unsigned)a->conn_timeout_s;
    cfg.max_extender_body = (size_t)a->max_extender_body;
    cfg.threads = (unsigned)a->threads;
    cfg.cluster = a->mode == MODE_CLUSTER;
    cfg.api.kubeconfig = a->kubeconfig;
    cfg.api.context = a->context;
    cfg.rec.leader_elect = a->leader_elect;
    cfg.rec.lease_name = a->lease_name;
    cfg.rec.lease_namespace = a->lease_namespace;
    cfg.rec.lease_duration_s = (int)a->lease_duration_s;
    cfg.rec.renew_deadline_s = (int)a->renew_deadline_s;
    cfg.rec.retry_period_s = (int)a->retry_period_s;
    cfg.certs.secret = a->tls_secret;
    cfg.certs.services = a->cert_services;
    cfg.certs.n_services = a->n_cert_services;
    cfg.certs.webhook_configs = a->webhook_configs;
    cfg.certs.n_webhook_configs = a->n_webhook_configs;
    cfg.certs.ca_configmap = a->ca_configmap;
    cfg.certs.serving_days = (int)a->cert_days;
    cfg.certs.ca_days = (int)a->ca_days;
    cfg.certs.overlap_s = a->cert_overlap_s;
    cfg.cert_check_period_s = (unsigned)a->cert_check_s;
    return rc ? rc : app_start(&cfg, out, err);
}

/* Serve until SIGTERM or SIGINT; the exit status. */
static int serve(const serve_args *a)
{
    app *ap = NULL;
    sp_err err = { SP_OK, "" };
    sigset_t stop;
    int sig = 0;
    char port[16];

#ifdef M_MMAP_THRESHOLD
    /* Blocks of 1 MiB and more (big request bodies, the files loaded at
     * start) are mapped and given back when freed. glibc otherwise raises
     * this threshold to the largest block freed so far (the load's: 32 MiB)
     * and its trim threshold to twice that, and every worker thread's heap
     * then keeps the most it ever held: RSS ratchets up for minutes under
     * traffic (bench/soak.sh). Setting it turns that adjustment off. */
    (void)mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
    block_signals(&stop);
    if (start(a, &ap, &err)) {
        sp_log(SP_LOG_ERROR, "start_failed", "error", err.msg, NULL);
        fprintf(stderr, "streams-placer serve: %s\n", err.msg);
        return 1;
    }
    snprintf(port, sizeof(port), "%u", (unsigned)app_port(ap));
    sp_log(SP_LOG_INFO, "listening", "listen", a->listen, "port", port, "mode",
           a->mode == MODE_CLUSTER ? "cluster" : "standalone", "state_dir", a->state_dir, NULL);
    if (a->port_file)
        write_port_file(a->port_file, ap);
    sigwait(&stop, &sig);
    sp_log(SP_LOG_INFO, "stopping", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
    app_stop(ap, (unsigned)a->drain_s * 1000);
    sp_log(SP_LOG_INFO, "stopped", NULL);
    return 0;
}

int cli_serve(int argc, char **argv)
{
    serve_args a;
    int parsed = parse_args(argc, argv, &a);
    int status = parsed ? (parsed < 0 ? 0 : 1) : serve(&a);

    sp_free(a.cert_services);
    sp_free(a.webhook_configs);
    return status;
}
