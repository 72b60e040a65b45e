/*
 * Kubeconfig parsing: see kapi_kubeconfig.h. libyaml loads the document into
 * a node tree; only the paths a kubeconfig defines are walked (never the
 * whole tree, so aliases cannot make the walk blow up): current-context,
 * then the named entry of contexts, clusters and users. Every message says
 * where it is, `context "dev": cluster "c1": field "server": ...`, and what
 * to do; kapi_new prefixes the file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "kapi/kapi_internal.h"
#include "kapi/kapi_kubeconfig.h"
#include "util/sp_alloc.h"

/* What the messages of the function at hand name. */
typedef struct kc_parse {
    yaml_document_t *doc;
    const char *base_dir;
    const char *context;
    const char *cluster;        /* set while the cluster is read */
    const char *user;           /* set while the user is read */
    kapi_kubeconfig *kc;
    sp_err *err;
} kc_parse;

static const char supported_auth[] =
    "use token, tokenFile, or client-certificate and client-key (or their -data forms)";

/* ------------------------------------------------------------------------ */
/* Messages                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Fail with rc: `context "C"[: cluster "K" | : user "U"][: field "F"]: ...`.
 * The names come from the input and may be long: the message is cut, never
 * overrun.
 */
static sp_rc fail(kc_parse *p, sp_rc rc, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static sp_rc fail(kc_parse *p, sp_rc rc, const char *field, const char *fmt, ...)
{
    char where[SP_ERR_MSG_MAX];
    char detail[SP_ERR_MSG_MAX];
    size_t used = 0;
    va_list ap;
    int n;

    where[0] = '\0';
    if (p->context) {
        n = snprintf(where, sizeof(where), "context \"%s\": ", p->context);
        used = n < 0 ? 0 : (size_t)n >= sizeof(where) ? sizeof(where) - 1 : (size_t)n;
    }
    if (p->cluster || p->user) {
        n = snprintf(where + used, sizeof(where) - used, "%s \"%s\": ",
                     p->cluster ? "cluster" : "user", p->cluster ? p->cluster : p->user);
        used += n < 0 ? 0 : (size_t)n >= sizeof(where) - used ? sizeof(where) - used - 1
                                                              : (size_t)n;
    }
    if (field) {
        n = snprintf(where + used, sizeof(where) - used, "field \"%s\": ", field);
        if (n < 0)
            where[used] = '\0';
    }
    va_start(ap, fmt);
    n = vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (n < 0)
        detail[0] = '\0';
    return sp_err_set(p->err, rc, "%s%s", where, detail);
}

static sp_rc fail_nomem(kc_parse *p)
{
    return sp_err_set(p->err, SP_ENOMEM, "out of memory");
}

/* ------------------------------------------------------------------------ */
/* The node tree                                                              */
/* ------------------------------------------------------------------------ */

static yaml_node_t *node(kc_parse *p, int id)
{
    return yaml_document_get_node(p->doc, id);
}

static bool scalar_is(const yaml_node_t *n, const char *s)
{
    size_t len = strlen(s);

    return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == len &&
           memcmp(n->data.scalar.value, s, len) == 0;
}

/* The value under key in mapping map (NULL: absent or map not a mapping). */
static yaml_node_t *map_get(kc_parse *p, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++)
        if (scalar_is(node(p, pair->key), key))
            return node(p, pair->value);
    return NULL;
}

/* A null value (`key:`, `key: ~`) counts as absent, as in kubectl. */
static bool is_null(const yaml_node_t *n)
{
    if (!n)
        return true;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    return n->data.scalar.length == 0 || scalar_is(n, "~") || scalar_is(n, "null") ||
           scalar_is(n, "Null") || scalar_is(n, "NULL");
}

/*
 * The string under key of map in *out (owned; NULL when absent, null or
 * empty). Not a string, or one holding a NUL byte: SP_EPARSE naming field.
 */
static sp_rc get_string(kc_parse *p, yaml_node_t *map, const char *key, char **out)
{
    yaml_node_t *v = map_get(p, map, key);

    *out = NULL;
    if (is_null(v))
        return SP_OK;
    if (v->type != YAML_SCALAR_NODE)
        return fail(p, SP_EPARSE, key, "is not a string");
    if (memchr(v->data.scalar.value, '\0', v->data.scalar.length))
        return fail(p, SP_EPARSE, key, "contains a NUL byte");
    if (v->data.scalar.length == 0)
        return SP_OK;
    *out = sp_strndup((const char *)v->data.scalar.value, v->data.scalar.length);
    return *out ? SP_OK : fail_nomem(p);
}

/* The mapping of the entry named name in the list under list_key of the
 * root (contexts, clusters, users), under its item_key; NULL when there is
 * no such entry. SP_EPARSE when the list or the entry is malformed. */
static sp_rc find_entry(kc_parse *p, const char *list_key, const char *item_key,
                        const char *name, yaml_node_t **out)
{
    yaml_node_t *list = map_get(p, yaml_document_get_root_node(p->doc), list_key);

    *out = NULL;
    if (is_null(list))
        return SP_OK;
    if (list->type != YAML_SEQUENCE_NODE)
        return fail(p, SP_EPARSE, list_key, "is not a list: write it as a list of "
                    "entries with name and %s", item_key);
    for (yaml_node_item_t *it = list->data.sequence.items.start;
         it < list->data.sequence.items.top; it++) {
        yaml_node_t *entry = node(p, *it);
        if (!scalar_is(map_get(p, entry, "name"), name))
            continue;
        *out = map_get(p, entry, item_key);
        if (is_null(*out)) {
            /* `user: {}` and a missing user mapping are the same: nothing. */
            static yaml_node_t empty = { .type = YAML_MAPPING_NODE };
            *out = &empty;
        }
        if ((*out)->type != YAML_MAPPING_NODE)
            return fail(p, SP_EPARSE, NULL, "%s entry \"%s\": field \"%s\" is not a "
                        "mapping", list_key, name, item_key);
        return SP_OK;
    }
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Field kinds                                                                */
/* ------------------------------------------------------------------------ */

/* A file path field, resolved against base_dir when relative. */
static sp_rc get_path(kc_parse *p, yaml_node_t *map, const char *key, char **out)
{
    char *raw;
    sp_rc rc = get_string(p, map, key, &raw);
    size_t n;

    *out = NULL;
    if (rc || !raw)
        return rc;
    if (raw[0] == '/') {
        *out = raw;
        return SP_OK;
    }
    n = strlen(p->base_dir) + 1 + strlen(raw) + 1;
    *out = sp_malloc(n);
    if (*out && snprintf(*out, n, "%s/%s", p->base_dir, raw) != (int)n - 1) {
        sp_free(*out);
        *out = NULL;
    }
    sp_free(raw);
    return *out ? SP_OK : fail_nomem(p);
}

/* A base64 data field, decoded. */
static sp_rc get_data(kc_parse *p, yaml_node_t *map, const char *key, unsigned char **out,
                      size_t *len)
{
    char *raw;
    sp_rc rc = get_string(p, map, key, &raw);

    *out = NULL;
    *len = 0;
    if (rc || !raw)
        return rc;
    rc = kapi_base64_decode(raw, strlen(raw), out, len);
    sp_free(raw);
    if (rc == SP_EPARSE)
        return fail(p, rc, key, "is not valid base64: give the PEM text base64-encoded "
                    "(base64 -w0 FILE)");
    return rc ? fail_nomem(p) : SP_OK;
}

/* A boolean field; absent: false. YAML 1.1 spellings are accepted, as
 * kubectl's YAML reader does. */
static sp_rc get_bool(kc_parse *p, yaml_node_t *map, const char *key, bool *out)
{
    static const char *const yes[] = { "true", "yes", "on", "y" };
    static const char *const no[] = { "false", "no", "off", "n" };
    char *raw;
    sp_rc rc = get_string(p, map, key, &raw);

    *out = false;
    if (rc || !raw)
        return rc;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]) && rc == SP_OK; i++) {
        if (strcasecmp(raw, yes[i]) == 0) {
            *out = true;
            goto out;
        }
        if (strcasecmp(raw, no[i]) == 0)
            goto out;
    }
    rc = fail(p, SP_EPARSE, key, "\"%s\" is not a boolean: use true or false", raw);
out:
    sp_free(raw);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The context, its cluster and its user                                      */
/* ------------------------------------------------------------------------ */

static bool has_prefix_nocase(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* The server URL: https only, no white space or control characters, the
 * trailing '/' dropped. */
static sp_rc check_server(kc_parse *p, char *server)
{
    size_t n = strlen(server);

    if (!has_prefix_nocase(server, "https://") || n == strlen("https://"))
        return fail(p, SP_EPARSE, "server", "\"%s\" is not an https:// URL: the API server "
                    "is reached over TLS only", server);
    if (server[strlen("https://")] == '/')
        return fail(p, SP_EPARSE, "server", "\"%s\" has no host: give https://HOST[:PORT]",
                    server);
    for (const unsigned char *c = (const unsigned char *)server; *c; c++)
        if (*c <= ' ' || *c == 0x7f)
            return fail(p, SP_EPARSE, "server", "\"%s\" contains white space or a control "
                        "character", server);
    if (strchr(server, '?') || strchr(server, '#'))
        return fail(p, SP_EPARSE, "server", "\"%s\" has a query or fragment: give the "
                    "base URL only", server);
    while (n > strlen("https://") && server[n - 1] == '/')
        server[--n] = '\0';
    return SP_OK;
}

static sp_rc read_cluster(kc_parse *p, yaml_node_t *cluster)
{
    kapi_kubeconfig *kc = p->kc;
    sp_rc rc;

    rc = get_string(p, cluster, "server", &kc->server);
    if (!rc && !kc->server)
        rc = fail(p, SP_EPARSE, "server", "is missing: set it to the API server's "
                  "https:// URL");
    if (!rc)
        rc = check_server(p, kc->server);
    if (!rc)
        rc = get_data(p, cluster, "certificate-authority-data", &kc->ca_data, &kc->ca_len);
    if (!rc && !kc->ca_data)
        rc = get_path(p, cluster, "certificate-authority", &kc->ca_file);
    if (!rc)
        rc = get_bool(p, cluster, "insecure-skip-tls-verify", &kc->insecure);
    if (!rc && kc->insecure && (kc->ca_data || kc->ca_file))
        rc = fail(p, SP_EPARSE, "insecure-skip-tls-verify", "is true and a certificate "
                  "authority is given too: remove one of them");
    return rc;
}

/* Authentication streams-placer cannot do: an error saying what it can. */
static sp_rc check_unsupported(kc_parse *p, yaml_node_t *user)
{
    static const struct {
        const char *field;
        const char *what;
    } unsupported[] = {
        { "exec", "exec credential plugins are not supported" },
        { "auth-provider", "auth providers are not supported" },
        { "username", "basic authentication (username/password) is not supported" },
        { "password", "basic authentication (username/password) is not supported" },
        { "as", "impersonation is not supported" },
        { "as-uid", "impersonation is not supported" },
        { "as-groups", "impersonation is not supported" },
        { "as-user-extra", "impersonation is not supported" },
    };

    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
        if (!is_null(map_get(p, user, unsupported[i].field)))
            return fail(p, SP_EPARSE, unsupported[i].field, "%s: %s",
                        unsupported[i].what, supported_auth);
    return SP_OK;
}

static sp_rc read_user(kc_parse *p, yaml_node_t *user)
{
    kapi_kubeconfig *kc = p->kc;
    sp_rc rc = check_unsupported(p, user);

    if (!rc)
        rc = get_string(p, user, "token", &kc->token);
    if (!rc && !kc->token)
        rc = get_path(p, user, "tokenFile", &kc->token_file);
    if (!rc)
        rc = get_data(p, user, "client-certificate-data", &kc->cert_data, &kc->cert_len);
    if (!rc && !kc->cert_data)
        rc = get_path(p, user, "client-certificate", &kc->cert_file);
    if (!rc)
        rc = get_data(p, user, "client-key-data", &kc->key_data, &kc->key_len);
    if (!rc && !kc->key_data)
        rc = get_path(p, user, "client-key", &kc->key_file);
    if (rc)
        return rc;
    if ((kc->cert_data || kc->cert_file) && !(kc->key_data || kc->key_file))
        return fail(p, SP_EPARSE, "client-key", "is missing while a client certificate is "
                    "given: give both client-certificate and client-key (or their -data "
                    "forms)");
    if ((kc->key_data || kc->key_file) && !(kc->cert_data || kc->cert_file))
        return fail(p, SP_EPARSE, "client-certificate", "is missing while a client key is "
                    "given: give both client-certificate and client-key (or their -data "
                    "forms)");
    return SP_OK;
}

/* The context's cluster: its name, its entry, its fields. */
static sp_rc resolve_cluster(kc_parse *p, yaml_node_t *context)
{
    yaml_node_t *cluster;
    sp_rc rc = get_string(p, context, "cluster", &p->kc->cluster);

    if (!rc && !p->kc->cluster)
        rc = fail(p, SP_EPARSE, "cluster", "is missing: name one of the clusters");
    if (!rc)
        rc = find_entry(p, "clusters", "cluster", p->kc->cluster, &cluster);
    if (rc)
        return rc;
    if (!cluster)
        return fail(p, SP_ENOTFOUND, NULL, "cluster \"%s\" is not in clusters: add it or "
                    "fix the context's cluster", p->kc->cluster);
    p->cluster = p->kc->cluster;
    rc = read_cluster(p, cluster);
    p->cluster = NULL;
    return rc;
}

/* The context's user, when it names one (none: anonymous). */
static sp_rc resolve_user(kc_parse *p, yaml_node_t *context)
{
    yaml_node_t *user;
    sp_rc rc = get_string(p, context, "user", &p->kc->user);

    if (rc || !p->kc->user)
        return rc;
    rc = find_entry(p, "users", "user", p->kc->user, &user);
    if (rc)
        return rc;
    if (!user)
        return fail(p, SP_ENOTFOUND, NULL, "user \"%s\" is not in users: add it or fix "
                    "the context's user", p->kc->user);
    p->user = p->kc->user;
    rc = read_user(p, user);
    p->user = NULL;
    return rc;
}

static sp_rc resolve(kc_parse *p, const char *want)
{
    yaml_node_t *root = yaml_document_get_root_node(p->doc);
    yaml_node_t *context;
    char *current = NULL;
    sp_rc rc;

    if (!root)
        return sp_err_set(p->err, SP_EPARSE, "the kubeconfig is empty");
    if (root->type != YAML_MAPPING_NODE)
        return sp_err_set(p->err, SP_EPARSE, "is not a mapping: a kubeconfig is a YAML "
                          "mapping of clusters, contexts, users and current-context");
    if (!want) {
        rc = get_string(p, root, "current-context", &current);
        if (rc)
            return rc;
        if (!current)
            return sp_err_set(p->err, SP_EPARSE, "current-context is not set: set it "
                              "(kubectl config use-context NAME) or name a context");
        want = current;
    }
    p->kc->context = sp_strdup(want);
    sp_free(current);
    if (!p->kc->context)
        return fail_nomem(p);
    rc = find_entry(p, "contexts", "context", p->kc->context, &context);
    if (rc)
        return rc;
    if (!context)
        return sp_err_set(p->err, SP_ENOTFOUND, "context \"%s\" is not in contexts: "
                          "name one that is (kubectl config get-contexts)", p->kc->context);
    p->context = p->kc->context;
    rc = get_string(p, context, "namespace", &p->kc->namespace);
    if (!rc)
        rc = resolve_cluster(p, context);
    if (!rc)
        rc = resolve_user(p, context);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Public                                                                     */
/* ------------------------------------------------------------------------ */

/* Load the first document of yaml, or fail naming line and column. */
static sp_rc load(const char *yaml, size_t len, yaml_document_t *doc, sp_err *err)
{
    yaml_parser_t parser;
    sp_rc rc = SP_OK;

    if (!yaml_parser_initialize(&parser))
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, doc)) {
        if (parser.error == YAML_MEMORY_ERROR)
            rc = sp_err_set(err, SP_ENOMEM, "out of memory");
        else
            rc = sp_err_set(err, SP_EPARSE, "YAML error at line %zu, column %zu: %s%s%s",
                            parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                            parser.problem ? parser.problem : "malformed",
                            parser.context ? " " : "", parser.context ? parser.context : "");
    }
    yaml_parser_delete(&parser);
    return rc;
}

sp_rc kapi_kubeconfig_parse(const char *yaml, size_t len, const char *context,
                            const char *base_dir, kapi_kubeconfig **out, sp_err *err)
{
    yaml_document_t doc;
    kc_parse p = { .doc = &doc, .base_dir = base_dir ? base_dir : ".", .err = err };
    sp_rc rc;

    *out = NULL;
    if (!yaml)
        return sp_err_set(err, SP_EINVAL, "no kubeconfig text");
    if (len > KAPI_KUBECONFIG_MAX)
        return sp_err_set(err, SP_EPARSE, "larger than %u bytes", KAPI_KUBECONFIG_MAX);
    rc = load(yaml, len, &doc, err);
    if (rc)
        return rc;
    p.kc = sp_calloc(1, sizeof(*p.kc));
    rc = p.kc ? resolve(&p, context) : fail_nomem(&p);
    if (!rc)
        *out = p.kc;
    else
        kapi_kubeconfig_free(p.kc);
    yaml_document_delete(&doc);
    return rc;
}

void kapi_kubeconfig_free(kapi_kubeconfig *kc)
{
    if (!kc)
        return;
    sp_free(kc->context);
    sp_free(kc->cluster);
    sp_free(kc->user);
    sp_free(kc->server);
    sp_free(kc->namespace);
    sp_free(kc->ca_file);
    sp_free(kc->ca_data);
    sp_free(kc->token);
    sp_free(kc->token_file);
    sp_free(kc->cert_file);
    sp_free(kc->cert_data);
    sp_free(kc->key_file);
    sp_free(kc->key_data);
    sp_free(kc);
}
