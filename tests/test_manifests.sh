#!/bin/sh
# The deployment manifests against the code they deploy. `kubectl kustomize`
# (kubectl's built-in kustomize; kubectl must be on PATH, else the test
# skips) builds manifests/ offline, as `kubectl apply -k manifests/` would
# send it; then Python checks every object, and where the manifests promise
# something about the code, reads the code:
#   - CRDs: group, version, names, structural schemas, CEL rules; HostPool
#     spec fields are those kobj/kobj_pool.c reads; PEPlacement spec and
#     status fields are exactly those reconciler/rec_placement.c writes and
#     reads, its phases svc/svc.c's phase names; printer columns point at
#     real fields;
#   - RBAC: every API call of reconciler/*.c (kapi_path segments, informer
#     paths, HTTP methods per function) and of certmgr/certmgr_api.c (the
#     certificate Secret, the CA ConfigMap, the webhook configurations) has
#     a rule, and every rule has a call; get/update are limited to the names
#     the Deployment's flags give (--lease-name, --tls-secret,
#     --ca-configmap, --webhook-config), create never is;
#   - the Deployment: every argument is a flag `streams-placer help serve`
#     prints; ports, probe paths (app/app.c routes), POD_NAME, the mounts
#     behind --policy/--state-dir, non-root read-only security contexts;
#     certificates from the cluster (--tls-secret, no key mounted), every
#     Service in front of the placer a --cert-service (and the names its
#     certificate gets cover what kube-apiserver and kube-scheduler call),
#     every webhook configuration calling it a --webhook-config, and the
#     Secret and ConfigMap the placer keeps absent from the manifests;
#   - Services, webhooks (paths = routes, selectors, failurePolicy,
#     sideEffects, no caBundle: the placer injects it), the scheduler
#     configuration (urlPrefix + verbs = routes, weight, TLS: caFile is the
#     key certmgr writes in the ConfigMap --ca-configmap, mounted);
#   - the policy ConfigMap parses (`streams-placer plan --policy`), and the
#     Dockerfile's runtime packages provide every library the binary needs.
# Exit status: 0 pass, 1 fail, 77 skip (kubectl, python3 or PyYAML
# missing), 99 error.

: "${top_srcdir:=.}"
: "${top_builddir:=.}"

srcdir="$(cd "$top_srcdir" 2>/dev/null && pwd)" || { echo "no top_srcdir" >&2; exit 99; }
bin="$(cd "$top_builddir" 2>/dev/null && pwd)/streams-placer"
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 99; }
command -v kubectl >/dev/null 2>&1 || { echo "kubectl not found: skip" >&2; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "python3 not found: skip" >&2; exit 77; }
python3 -c 'import yaml' 2>/dev/null || { echo "python3 PyYAML (python3-yaml) not found: skip" >&2; exit 77; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/test_manifests.XXXXXX")" || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' INT TERM
. "${top_srcdir:-.}/tests/test_lib.sh"

# The base, as `kubectl apply -k manifests/` would send it.
if ! kubectl kustomize "$srcdir/manifests" >"$tmp/base.yaml" 2>"$tmp/err"; then
    fail "kubectl kustomize manifests/ failed"
    sed 's/^/    /' "$tmp/err" >&2
fi

# What the binary says `serve` takes.
"$bin" help serve >"$tmp/serve-help.txt" 2>&1 || fail "streams-placer help serve failed"

# The policy the ConfigMap carries must be one the server accepts.
echo '{"apiVersion": "v1", "kind": "NodeList", "items": []}' >"$tmp/nodes.json"
echo '{"apiVersion": "v1", "kind": "PodList", "items": []}' >"$tmp/pods.json"
if ! "$bin" plan --nodes "$tmp/nodes.json" --pods "$tmp/pods.json" \
        --policy "$srcdir/manifests/base/policy.json" >"$tmp/out" 2>"$tmp/err"; then
    fail "manifests/base/policy.json is refused by the policy parser"
    sed 's/^/    /' "$tmp/err" >&2
fi

# Shared libraries the binary needs, and the Debian package of each (for the
# Dockerfile check); empty when readelf or dpkg is not there.
: >"$tmp/libs.txt"
if command -v readelf >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1 &&
        command -v ldd >/dev/null 2>&1; then
    for so in $(readelf -d "$bin" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p'); do
        case "$so" in # sanitizer builds (.ci/run) link their runtimes: no image does
        libasan.so* | libubsan.so* | libtsan.so* | liblsan.so*) continue ;;
        esac
        path=$(ldd "$bin" | awk -v so="$so" '$1 == so { print $3 }')
        [ -n "$path" ] || { fail "ldd does not resolve $so"; continue; }
        real=$(readlink -f "$path")
        pkg=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$real" 2>/dev/null)
        pkg=$(echo "$pkg" | head -n 1 | sed 's/:.*//')
        echo "$so $pkg" >>"$tmp/libs.txt"
    done
fi

python3 - "$srcdir" "$tmp" "$bin" <<'PY'
import json
import os
import re
import subprocess
import sys

import yaml

SRC, TMP, BIN = sys.argv[1], sys.argv[2], sys.argv[3]
NS = "streams-placer"
GROUP = "placement.streams.io"
VERSION = "v1alpha1"
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def check(cond, msg):
    if not cond:
        fail(msg)
    return bool(cond)


def read(rel):
    with open(os.path.join(SRC, rel), encoding="utf-8") as f:
        return f.read()


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except (OSError, yaml.YAMLError) as e:
        fail("%s: does not parse: %s" % (os.path.basename(path), e))
        return []


def c_function(text, name):
    """The body of the C function name (definition at column 0)."""
    m = re.search(r"^[a-z][^\n;]*\b%s\([^;{]*\)\s*\{\n(.*?)^\}" % re.escape(name),
                  text, re.S | re.M)
    return m.group(1) if m else None


def c_functions(text):
    """{name: body} of every function defined at column 0."""
    out = {}
    for m in re.finditer(r"^[a-z][^\n;]*?\b(\w+)\([^;{]*\)\s*\{\n(.*?)^\}", text, re.S | re.M):
        out[m.group(1)] = m.group(2)
    return out


# ---------------------------------------------------------------------------
# The objects
# ---------------------------------------------------------------------------

base = load(os.path.join(TMP, "base.yaml"))
if not base:
    fail("no objects built from manifests/")
    sys.exit(1)

NAMESPACED = {"ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret", "Service",
              "Deployment", "PodDisruptionBudget"}
seen = set()
for d in base:
    kind = d.get("kind")
    meta = d.get("metadata") or {}
    name = meta.get("name")
    check(d.get("apiVersion") and kind and name, "an object without apiVersion/kind/name: %r" % d)
    key = (kind, meta.get("namespace"), name)
    check(key not in seen, "%s %s is defined twice" % (kind, name))
    seen.add(key)
    if kind in NAMESPACED:
        check(meta.get("namespace") == NS, "%s %s is not in namespace %s" % (kind, name, NS))
    check((meta.get("labels") or {}).get("app.kubernetes.io/part-of") == "streams-placer",
          "%s %s lacks the label app.kubernetes.io/part-of" % (kind, name))


def objs(docs, kind, name=None):
    return [d for d in docs if d.get("kind") == kind
            and (name is None or d["metadata"]["name"] == name)]


def one(docs, kind, name=None, where="manifests/"):
    found = objs(docs, kind, name)
    if len(found) != 1:
        fail("%s: expected one %s%s, found %d" % (where, kind, " " + name if name else "",
                                                    len(found)))
        return {}
    return found[0]


check(one(base, "Namespace", NS), "the Namespace %s is missing" % NS)

# ---------------------------------------------------------------------------
# What the code says
# ---------------------------------------------------------------------------

app_c = read("app/app.c")
ROUTES = {(m.group(1), m.group(2)) for m in
          re.finditer(r'\{\s*"(/[^"]*)",\s*"(GET|POST)"', app_c)}
check(("/webhook/validate", "POST") in ROUTES, "app/app.c: no route parsed (format changed?)")

rec_h = read("reconciler/rec.h")
m = re.search(r'#define REC_LEADER_LABEL "([^"]+)"', rec_h)
LEADER_LABEL = m.group(1) if m else None
check(LEADER_LABEL, "reconciler/rec.h: REC_LEADER_LABEL not found")

place_h = read("placement/place.h")
m = re.search(r'#define PLACE_LABEL_JOB "([^"]+)"', place_h)
JOB_LABEL = m.group(1) if m else None
m = re.search(r"#define PLACE_MAX_POOL_SIZE (\d+)", place_h)
MAX_POOL = int(m.group(1)) if m else None
check(JOB_LABEL and MAX_POOL, "placement/place.h: PLACE_LABEL_JOB / PLACE_MAX_POOL_SIZE not found")

rec_c = read("reconciler/rec.c")
lease_c = read("reconciler/rec_lease.c")
placement_c = read("reconciler/rec_placement.c")
pool_c = read("kobj/kobj_pool.c")
svc_c = read("svc/svc.c")
certmgr_api_c = read("certmgr/certmgr_api.c")
certmgr_h = read("certmgr/certmgr.h") + read("certmgr/certmgr_internal.h")
app_certs_c = read("app/app_certs.c")


def c_define(text, name, where):
    m = re.search(r'^#define %s\s+("([^"]*)"|(\d+))' % re.escape(name), text, re.M)
    check(m, "%s: %s not found" % (where, name))
    return (m.group(2) if m.group(2) is not None else int(m.group(3))) if m else None


CA_KEY = c_define(certmgr_h, "CERTMGR_KEY_CA_CRT", "certmgr/certmgr_internal.h")
OVERLAP_DEFAULT = c_define(certmgr_h, "CERTMGR_OVERLAP_S", "certmgr/certmgr.h")
CHECK_DEFAULT = c_define(app_certs_c, "DEFAULT_CHECK_PERIOD_S", "app/app_certs.c")
ADMISSION_GROUP = c_define(certmgr_api_c, "ADMISSION_GROUP", "certmgr/certmgr_api.c")

# ---------------------------------------------------------------------------
# CRDs
# ---------------------------------------------------------------------------


def structural(node, path, errors):
    """Every node typed; object/array children where they belong."""
    if not isinstance(node, dict):
        errors.append(path + ": not a schema")
        return
    if node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-int-or-string"):
        return
    t = node.get("type")
    if t not in ("object", "array", "string", "integer", "number", "boolean"):
        errors.append("%s: no type" % path)
        return
    if "properties" in node and t != "object":
        errors.append("%s: properties on a %s" % (path, t))
    if "items" in node and t != "array":
        errors.append("%s: items on a %s" % (path, t))
    if t == "array":
        if "items" not in node:
            errors.append("%s: an array without items" % path)
        else:
            structural(node["items"], path + "[]", errors)
    for k, v in (node.get("properties") or {}).items():
        structural(v, path + "." + k, errors)
    for k in ("anyOf", "oneOf", "allOf", "not"):
        if k in node:
            errors.append("%s: %s (keep the schema plain)" % (path, k))


def crd_check(plural, kind, short, columns):
    crd = one(base, "CustomResourceDefinition", "%s.%s" % (plural, GROUP))
    if not crd:
        return None
    spec = crd["spec"]
    names = spec.get("names", {})
    check(spec.get("group") == GROUP, "%s: group %r" % (kind, spec.get("group")))
    check(spec.get("scope") == "Namespaced", "%s: not namespaced" % kind)
    check(names.get("kind") == kind and names.get("plural") == plural
          and names.get("singular") == kind.lower(), "%s: names %r" % (kind, names))
    check(names.get("shortNames") == [short], "%s: shortNames %r" % (kind, names.get("shortNames")))
    check("streams" in (names.get("categories") or []), "%s: not in category streams" % kind)
    vs = spec.get("versions") or []
    check(len(vs) == 1 and vs[0].get("name") == VERSION and vs[0].get("served")
          and vs[0].get("storage"), "%s: versions %r" % (kind, [v.get("name") for v in vs]))
    v = vs[0] if vs else {}
    check((v.get("subresources") or {}).get("status") == {}, "%s: no status subresource" % kind)
    schema = (v.get("schema") or {}).get("openAPIV3Schema") or {}
    errors = []
    structural(schema, kind, errors)
    for e in errors:
        fail("%s schema is not structural: %s" % (kind, e))
    cols = [c["name"].upper() for c in v.get("additionalPrinterColumns") or []
            if not c.get("priority")]
    check(cols == columns, "%s: printer columns %r, expected %r" % (kind, cols, columns))
    for c in v.get("additionalPrinterColumns") or []:
        node = schema
        parts = c["jsonPath"].lstrip(".").split(".")
        if parts[0] == "metadata":
            continue
        for p in parts:
            node = (node.get("properties") or {}).get(p) if isinstance(node, dict) else None
        check(node is not None, "%s: printer column %s points at %s, not in the schema"
              % (kind, c["name"], c["jsonPath"]))
    return schema


def props(schema, *path):
    node = schema
    for p in path:
        node = (node.get("properties") or {}).get(p) or {}
    return node


def literals(text):
    return set(re.findall(r'"(\w+)"', text))


hp = crd_check("hostpools", "HostPool", "hp", ["TAGS", "SIZE", "EXCLUSIVE", "HOSTS", "AGE"])
if hp:
    check("spec" in (hp.get("required") or []), "HostPool: spec is not required")
    spec = props(hp, "spec")
    fields = set((spec.get("properties") or {}).keys())
    check(fields == {"job", "tags", "hosts", "size", "exclusive"},
          "HostPool spec fields %s" % sorted(fields))
    read_fields = literals(pool_c)
    for f in fields | {"hosts"}:
        check(f in read_fields, "HostPool field %s is not read by kobj/kobj_pool.c" % f)
    status = set((props(hp, "status").get("properties") or {}).keys())
    check(status == {"hosts", "conditions", "observedGeneration"},
          "HostPool status fields %s" % sorted(status))
    size = props(hp, "spec", "size")
    check(size.get("type") == "integer" and size.get("minimum") == 1
          and size.get("maximum") == MAX_POOL,
          "HostPool spec.size: want integer 1..PLACE_MAX_POOL_SIZE (%s), got %r" % (MAX_POOL, size))
    check(props(hp, "spec", "exclusive").get("type") == "boolean", "HostPool exclusive not boolean")
    tag = props(hp, "spec", "tags").get("items") or {}
    pat = re.compile(tag.get("pattern", "^$"))
    check(tag.get("maxLength") == 63 and pat.match("ingest") and pat.match("gpu.a_1")
          and not pat.match("-x") and not pat.match("a/b") and not pat.match(""),
          "HostPool tags: not the label-name pattern: %r" % tag)
    host = props(hp, "spec", "hosts").get("items") or {}
    hpat = re.compile(host.get("pattern", "^$"))
    check(hpat.match("node-1.example") and not hpat.match("Node_1"),
          "HostPool hosts: not a node-name pattern: %r" % host)
    rules = spec.get("x-kubernetes-validations") or []
    text = " ".join(r.get("rule", "") for r in rules)
    check(len(rules) == 3 and all(r.get("message") for r in rules),
          "HostPool: want 3 CEL rules with messages, got %d" % len(rules))
    check("self.exclusive" in text and "self.job" in text and "has(self.size)" in text,
          "HostPool: no CEL rule 'exclusive requires job and size'")
    check("size(self.tags)" in text and "size(self.hosts)" in text,
          "HostPool: no CEL rule 'tags or hosts'")
    check("self.size <= size(self.hosts)" in text, "HostPool: no CEL rule 'size <= size(hosts)'")
    conds = props(hp, "status", "conditions")
    item = conds.get("items") or {}
    check(conds.get("x-kubernetes-list-type") == "map"
          and conds.get("x-kubernetes-list-map-keys") == ["type"]
          and set(item.get("required") or []) == {"type", "status", "lastTransitionTime",
                                                  "reason", "message"}
          and props(item, "status").get("enum") == ["True", "False", "Unknown"],
          "HostPool status.conditions is not the standard Condition shape")

pep = crd_check("peplacements", "PEPlacement", "pep",
                ["JOB", "PE", "NODE", "PHASE", "REASON", "AGE"])
if pep:
    spec = props(pep, "spec")
    fields = set((spec.get("properties") or {}).keys())
    body = c_function(placement_c, "rec_placement_object") or ""
    written = set(re.findall(r'cJSON_Add\w+ToObject\(spec, "(\w+)"', body))
    check(written and fields == written, "PEPlacement spec fields %s, rec_placement_object writes %s"
          % (sorted(fields), sorted(written)))
    check(set(spec.get("required") or []) == {"job", "pe"}, "PEPlacement: job and pe not required")
    for f in ("job", "pe"):
        rules = [r.get("rule") for r in props(pep, "spec", f).get("x-kubernetes-validations") or []]
        check("self == oldSelf" in rules, "PEPlacement spec.%s is not immutable (CEL)" % f)
    status = props(pep, "status").get("properties") or {}
    body = c_function(placement_c, "rec_placement_status") or ""
    written = set(re.findall(r'(?:add_opt|add_time|cJSON_Add\w+ToObject)\(st, "(\w+)"', body))
    body = c_function(placement_c, "rec_placement_from_json") or ""
    readback = set(re.findall(r'(?:str_at|cJSON_GetObjectItem)\(st, "(\w+)"', body))
    check(written and set(status) == written,
          "PEPlacement status fields %s, rec_placement_status writes %s"
          % (sorted(status), sorted(written)))
    check(readback and readback <= set(status),
          "rec_placement_from_json reads status fields %s not in the CRD" % sorted(readback - set(status)))
    m = re.search(r"phase_names\[[^\]]*\]\s*=\s*\{([^}]*)\}", svc_c)
    phases = [p for p in re.findall(r'"(\w*)"', m.group(1)) if p] if m else []
    check(phases and status.get("phase", {}).get("enum") == phases,
          "PEPlacement status.phase enum %r, svc/svc.c phase_names %r"
          % (status.get("phase", {}).get("enum"), phases))
    for f in ("decidedAt", "reservationExpiresAt"):
        check(status.get(f, {}).get("format") == "date-time", "PEPlacement %s not date-time" % f)
    for f in ("launches", "observedGeneration"):
        check(status.get(f, {}).get("type") == "integer", "PEPlacement %s not integer" % f)

# ---------------------------------------------------------------------------
# The placer's flags (the RBAC names and the certificate checks need them)
# ---------------------------------------------------------------------------
dep = one(base, "Deployment", "streams-placer")
pod = (dep.get("spec") or {}).get("template", {}).get("spec", {})
containers = {c["name"]: c for c in pod.get("containers") or []}
server = containers.get("streams-placer", {})
args = server.get("args") or []
# every value of a flag, in order: --cert-service and --webhook-config repeat
flag_values = {}
for a in args:
    if a.startswith("--") and "=" in a:
        k, v = a.split("=", 1)
        flag_values.setdefault(k, []).append(v)
opts = {k: v[-1] for k, v in flag_values.items()}
lease_name = opts.get("--lease-name", "streams-placer")
tls_secret = opts.get("--tls-secret")
ca_configmap = opts.get("--ca-configmap")
cert_services = flag_values.get("--cert-service", [])
webhook_configs = flag_values.get("--webhook-config", [])

# ---------------------------------------------------------------------------
# RBAC: every API call of the reconciler and of certmgr has a rule, every
# rule a call
# ---------------------------------------------------------------------------
# (group, resource, verb, scope, file, function, evidence in that function)
CALLS = [
    ("", "nodes", "list", "cluster", rec_c, "start_informers", ['"/api/v1/nodes"']),
    ("", "nodes", "watch", "cluster", rec_c, "start_informers", ['"/api/v1/nodes"']),
    ("", "pods", "list", "cluster", rec_c, "start_informers", ['"/api/v1/pods"']),
    ("", "pods", "watch", "cluster", rec_c, "start_informers", ['"/api/v1/pods"']),
    ("", "pods", "get", "cluster", rec_c, "already_bound_to", ['"GET"']),
    ("", "pods/binding", "create", "cluster", rec_c, "sink_bind", ['"POST"', '"binding"']),
    ("", "events", "create", "cluster", rec_c, "sink_explain", ['"POST"', '"events"']),
    (GROUP, "hostpools", "list", "cluster", rec_c, "start_informers", ['"/hostpools"']),
    (GROUP, "hostpools", "watch", "cluster", rec_c, "start_informers", ['"/hostpools"']),
    (GROUP, "hostpools/status", "patch", "cluster", rec_c, "sink_members",
     ['"PATCH"', '"hostpools"', '"status"']),
    (GROUP, "peplacements", "list", "cluster", rec_c, "start_informers", ['"/peplacements"']),
    (GROUP, "peplacements", "watch", "cluster", rec_c, "start_informers", ['"/peplacements"']),
    (GROUP, "peplacements", "get", "cluster", rec_c, "fetch_or_create", ['"GET"']),
    (GROUP, "peplacements", "create", "cluster", rec_c, "fetch_or_create", ['"POST"']),
    (GROUP, "peplacements", "delete", "cluster", rec_c, "delete_placement",
     ['"DELETE"', '"peplacements"']),
    (GROUP, "peplacements/status", "update", "cluster", rec_c, "put_status",
     ['"PUT"', '"%s/status"']),
    ("coordination.k8s.io", "leases", "create", "namespace", lease_c, "create_lease", ['"POST"']),
    ("coordination.k8s.io", "leases", "get", "namespace", lease_c, "try_hold", ['"GET"']),
    ("coordination.k8s.io", "leases", "update", "namespace", lease_c, "try_hold", ['"PUT"']),
    ("coordination.k8s.io", "leases", "get", "namespace", lease_c, "rec_lease_release", ['"GET"']),
    ("coordination.k8s.io", "leases", "update", "namespace", lease_c, "rec_lease_release",
     ['"PUT"']),
    ("", "pods", "patch", "namespace", lease_c, "rec_label_pod", ['"PATCH"', '"pods"']),
    # certmgr/certmgr_api.c: get_json() is its only GET; put_json() sends the
    # method its caller names. The Secret and the ConfigMap live in the
    # service account's namespace (kapi_namespace), the webhook
    # configurations are cluster-scoped.
    ("", "secrets", "get", "namespace", certmgr_api_c, "certmgr_secret_read",
     ["get_json(", "secret_paths("]),
    ("", "secrets", "create", "namespace", certmgr_api_c, "certmgr_secret_write",
     ['"POST"', "secret_paths("]),
    ("", "secrets", "update", "namespace", certmgr_api_c, "certmgr_secret_write",
     ['"PUT"', "secret_paths("]),
    ("", "configmaps", "get", "namespace", certmgr_api_c, "configmap_once", ["get_json("]),
    ("", "configmaps", "create", "namespace", certmgr_api_c, "configmap_once", ['"POST"']),
    ("", "configmaps", "update", "namespace", certmgr_api_c, "configmap_once", ['"PUT"']),
    (ADMISSION_GROUP, "validatingwebhookconfigurations", "get", "cluster", certmgr_api_c,
     "webhook_once", ["get_json("]),
    (ADMISSION_GROUP, "validatingwebhookconfigurations", "update", "cluster", certmgr_api_c,
     "webhook_once", ['"PUT"']),
    (ADMISSION_GROUP, "mutatingwebhookconfigurations", "get", "cluster", certmgr_api_c,
     "webhook_once", ["get_json("]),
    (ADMISSION_GROUP, "mutatingwebhookconfigurations", "update", "cluster", certmgr_api_c,
     "webhook_once", ['"PUT"']),
]
VERB_OF = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
# take the method as a parameter (or, verb_of, only name verbs for messages)
HELPERS = {"send_json", "write_lease", "get_json", "put_json", "api_fail", "verb_of"}
SOURCES = (("reconciler/rec.c", rec_c), ("reconciler/rec_lease.c", lease_c),
           ("certmgr/certmgr_api.c", certmgr_api_c))
WHERE = {id(text): name for name, text in SOURCES}


def methods_of(text, body):
    """The HTTP methods body sends: its literals, and GET for certmgr's get_json()."""
    found = {m for m in VERB_OF if '"%s"' % m in body}
    if text is certmgr_api_c and "get_json(" in body:
        found.add("GET")
    return found


for group, res, verb, scope, text, func, evidence in CALLS:
    body = c_function(text, func)
    if not check(body is not None, "%s: function %s() not found (RBAC table stale)"
                 % (WHERE[id(text)], func)):
        continue
    for e in evidence:
        check(e in body, "%s: %s() no longer has %s, which the rule %s %s needs"
              % (WHERE[id(text)], func, e, verb, res))

# certmgr's requests all go through get_json() (GET) and send_json() (the
# caller's method), and nothing else in certmgr/ talks to the API server.
cm_funcs = c_functions(certmgr_api_c)
check('"GET"' in cm_funcs.get("get_json", ""), "certmgr_api.c: get_json() no longer sends GET")
for func, body in cm_funcs.items():
    if "kapi_request(" in body:
        check(func in ("get_json", "send_json"),
              "certmgr_api.c: %s() calls kapi_request() itself; add it to the RBAC table"
              % func)
for f in sorted(os.listdir(os.path.join(SRC, "certmgr"))):
    if f.endswith(".c") and f != "certmgr_api.c":
        text = read("certmgr/" + f)
        check("kapi_request(" not in text and "kapi_path(" not in text,
              "certmgr/%s talks to the API server: its calls need RBAC rules" % f)

# Every method used in a function is a call in the table.
table_methods = set()
for _, _, verb, _, text, func, ev in CALLS:
    table_methods |= {(id(text), func, m) for m in methods_of(text, " ".join(ev))}
for name, text in SOURCES:
    for func, body in c_functions(text).items():
        if func in HELPERS:
            continue
        for m in methods_of(text, body):
            check((id(text), func, m) in table_methods,
                  "%s: %s() sends %s, which no RBAC rule accounts for" % (name, func, m))

# Every resource the code names is in the table, and back.
code_res = set()
for _, text in SOURCES:
    for call in re.findall(r"kapi_path\((.*?)NULL\)", text, re.S):
        lits = re.findall(r'"([^"]*)"', call)
        if "namespaces" in lits:
            after = lits[lits.index("namespaces") + 1:]
        else:
            after = lits[2:] if lits and lits[0] == "api" else lits[3:]
        if after:
            code_res.add("/".join(after[:2]))
    code_res |= set(re.findall(r'"/api/v1/(\w+)"', text))
    code_res |= set(re.findall(r'REC_GROUP_PATH "/(\w+)"', text))
if '"%s/status"' in (c_function(rec_c, "put_status") or ""):
    code_res.add("peplacements/status")
# certmgr names the webhook configuration resources as arguments of
# publish_webhook(), under ADMISSION_GROUP/v1
hooks = set(re.findall(r'"(\w+webhookconfigurations)"', certmgr_api_c))
check(hooks, "certmgr_api.c: no webhook configuration resource found (format changed?)")
check(re.search(r'kapi_path\([^;]*"apis", ADMISSION_GROUP, "v1", resource', certmgr_api_c),
      "certmgr_api.c: the webhook configurations' path is no longer apis/ADMISSION_GROUP/v1")
check(ADMISSION_GROUP == "admissionregistration.k8s.io",
      "certmgr_api.c: ADMISSION_GROUP is %r" % ADMISSION_GROUP)
code_res |= hooks
table_res = {res for _, res, *_ in CALLS}
check(code_res == table_res, "code resources %s, RBAC table %s"
      % (sorted(code_res), sorted(table_res)))

# The rules: exactly the table, at the right scope, limited to the names the
# Deployment's flags give wherever RBAC can limit them (never create: RBAC
# cannot check a name that is in the body, so such a rule never matches).
NAMED = {("coordination.k8s.io", "leases"): ([lease_name], "--lease-name"),
         ("", "secrets"): ([tls_secret], "--tls-secret"),
         ("", "configmaps"): ([ca_configmap], "--ca-configmap")}
for r in hooks:
    NAMED[(ADMISSION_GROUP, r)] = (webhook_configs, "--webhook-config")
granted = set()
for kind, scope in (("ClusterRole", "cluster"), ("Role", "namespace")):
    role = one(base, kind, "streams-placer")
    for rule in role.get("rules") or []:
        names = rule.get("resourceNames")
        for g in rule.get("apiGroups") or []:
            for r in rule.get("resources") or []:
                for v in rule.get("verbs") or []:
                    check("*" not in (g, r, v), "%s streams-placer: a wildcard" % kind)
                    granted.add((g, r, v, scope))
                    want_names, flag = NAMED.get((g, r), (None, None))
                    if v in ("create", "list", "watch"):
                        check(not names, "%s streams-placer: %s %s with resourceNames: RBAC "
                              "never matches a name there, so the rule grants nothing"
                              % (kind, v, r))
                    elif want_names is not None:
                        check(names and sorted(names) == sorted(want_names),
                              "%s streams-placer: %s %s limited to %s, the Deployment's %s "
                              "names %s" % (kind, v, r, names, flag, want_names))
wanted = {(g, r, v, s) for g, r, v, s, *_ in CALLS}
for g, r, v, s in sorted(wanted - granted):
    fail("RBAC: the code needs %s %s/%s (%s scope), not granted" % (v, g or "core", r, s))
for g, r, v, s in sorted(granted - wanted):
    fail("RBAC: %s %s/%s (%s scope) is granted but the code never does it"
         % (v, g or "core", r, s))
for kind, role_kind in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
    b = one(base, kind, "streams-placer")
    check(b.get("roleRef", {}).get("kind") == role_kind
          and b.get("roleRef", {}).get("name") == "streams-placer"
          and {"kind": "ServiceAccount", "name": "streams-placer", "namespace": NS}
          in (b.get("subjects") or []), "%s streams-placer does not bind the service account" % kind)

# ---------------------------------------------------------------------------
# The placer's Deployment
# ---------------------------------------------------------------------------

help_text = open(os.path.join(TMP, "serve-help.txt"), encoding="utf-8").read()
FLAGS = set(re.findall(r"--[a-z][a-z-]*", help_text))
pod_labels = (dep.get("spec") or {}).get("template", {}).get("metadata", {}).get("labels", {})
inits = {c["name"]: c for c in pod.get("initContainers") or []}
volumes = {v["name"]: v for v in pod.get("volumes") or []}
check(dep.get("spec", {}).get("replicas") == 2, "streams-placer: not 2 replicas")
check(pod.get("serviceAccountName") == "streams-placer", "streams-placer: service account")
check(pod.get("automountServiceAccountToken") is not False, "streams-placer: no token mounted")

missing = [a.split("=")[0] for a in args if a.split("=")[0] not in FLAGS]
if missing:
    cluster = {"--mode", "--kubeconfig", "--context", "--no-leader-elect", "--lease-name",
               "--lease-namespace", "--lease-duration", "--renew-deadline", "--retry-period"}
    if set(missing) <= cluster:
        fail("`streams-placer help serve` does not print %s: this build lacks the cluster "
             "wiring of `serve` (the manifests need it)" % " ".join(missing))
    else:
        fail("Deployment args not printed by `streams-placer help serve`: %s" % missing)
check(all(a.startswith("--") and "=" in a for a in args),
      "Deployment args: write each as --flag=value: %r" % args)
check(opts.get("--mode") == "cluster", "Deployment: --mode=cluster missing")
check("--no-leader-elect" not in args, "Deployment: leader election is off")
check(int(opts.get("--retry-period", 2)) < int(opts.get("--renew-deadline", 10))
      < int(opts.get("--lease-duration", 15)), "Deployment: retry < renew < lease duration broken")
env = {e["name"]: e for e in server.get("env") or []}
check(env.get("POD_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
      == "metadata.name", "Deployment: POD_NAME is not the downward-API pod name")
check('getenv("POD_NAME")' in rec_c, "reconciler/rec.c no longer reads POD_NAME")

ports = {p.get("name"): p.get("containerPort") for p in server.get("ports") or []}
listen_port = int(opts.get("--listen", ":0").rsplit(":", 1)[1])
check(listen_port == 8443 and 8443 in ports.values(),
      "Deployment: --listen port %s / containerPort %s, expected 8443" % (listen_port, ports))


def resolve(port):
    return ports.get(port) if isinstance(port, str) else port


for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
    g = (server.get(probe) or {}).get("httpGet") or {}
    check(g.get("path") == path and (path, "GET") in ROUTES and g.get("scheme") == "HTTPS"
          and resolve(g.get("port")) == 8443,
          "Deployment %s: want HTTPS GET %s on 8443 (a route of app/app.c), got %r"
          % (probe, path, g))


def mount_of(container, path):
    """(volume, mountPath) holding path in container."""
    best = None
    for vm in container.get("volumeMounts") or []:
        mp = vm["mountPath"].rstrip("/") + "/"
        if (path + "/").startswith(mp) and (best is None or len(mp) > len(best[1])):
            best = (volumes.get(vm["name"], {}), mp, vm)
    return best


# Certificates from the cluster: the Secret --tls-secret read over the API,
# nothing mounted (no key file on any node's disk), no --tls-cert/--tls-key
# (exclusive with it).
check(tls_secret, "Deployment: no --tls-secret (the certificates are kept in the cluster)")
for flag in ("--tls-cert", "--tls-key"):
    check(flag not in flag_values, "Deployment: %s with --tls-secret (exclusive)" % flag)
check(not [v for v in volumes.values() if "secret" in v or
           any("secret" in src for src in (v.get("projected") or {}).get("sources") or [])],
      "Deployment: a Secret is mounted; the serving pair comes from --tls-secret")
for flag in ("--tls-secret", "--ca-configmap", "--lease-name", "--cert-overlap",
             "--cert-check-period", "--cert-days", "--ca-days"):
    check(len(flag_values.get(flag, [])) <= 1, "Deployment: %s given twice" % flag)
for flag, values in (("--cert-service", cert_services), ("--webhook-config", webhook_configs)):
    check(len(set(values)) == len(values), "Deployment: the same %s twice: %s" % (flag, values))
overlap = int(opts.get("--cert-overlap", OVERLAP_DEFAULT or 0))
period = int(opts.get("--cert-check-period", CHECK_DEFAULT or 0))
check(0 < period < overlap, "Deployment: --cert-check-period %d must be under --cert-overlap %d"
      % (period, overlap))
# what the placer creates and keeps is not in the manifests: every apply
# would overwrite it
check(not objs(base, "Secret"), "manifests/: a Secret; the placer creates its own (%s)"
      % tls_secret)
check(not objs(base, "Secret", tls_secret), "manifests/ define the Secret %s" % tls_secret)
check(ca_configmap and not objs(base, "ConfigMap", ca_configmap),
      "Deployment --ca-configmap %r: missing, or a ConfigMap of the manifests (an apply "
      "would overwrite what the placer publishes)" % ca_configmap)

# Every Service in front of the placer is a --cert-service, and back.


def selects_placer(svc):
    sel = (svc.get("spec") or {}).get("selector") or {}
    return sel and all(k == LEADER_LABEL or pod_labels.get(k) == v for k, v in sel.items())


fronting = sorted(svc["metadata"]["name"] for svc in objs(base, "Service") if selects_placer(svc))
check(fronting and sorted(cert_services) == fronting,
      "Deployment --cert-service %s, but the Services in front of the placer are %s"
      % (sorted(cert_services), fronting))

where = mount_of(server, opts.get("--state-dir", "/nonexistent"))
check(where and "emptyDir" in where[0] and not where[2].get("readOnly"),
      "Deployment --state-dir: not a writable emptyDir")
where = mount_of(server, opts.get("--policy", "/nonexistent"))
policy_doc = None
if check(where and "configMap" in where[0], "Deployment --policy: not on the policy ConfigMap"):
    cm = one(base, "ConfigMap", where[0]["configMap"]["name"])
    key = opts["--policy"][len(where[1]):]
    if check(key in (cm.get("data") or {}), "policy ConfigMap has no key %s" % key):
        policy_doc = json.loads(cm["data"][key])
        check(key == "policy.json", "the policy key is %s, not policy.json" % key)


def security(name, pod_spec, container, uid=65532):
    psc = pod_spec.get("securityContext") or {}
    sc = container.get("securityContext") or {}
    check((sc.get("runAsNonRoot") or psc.get("runAsNonRoot")) is True,
          "%s: runAsNonRoot not set" % name)
    check(sc.get("runAsUser", psc.get("runAsUser")) == uid, "%s: runAsUser is not %d" % (name, uid))
    check(sc.get("readOnlyRootFilesystem") is True, "%s: root filesystem not read-only" % name)
    check(sc.get("allowPrivilegeEscalation") is False, "%s: privilege escalation allowed" % name)
    check((sc.get("capabilities") or {}).get("drop") == ["ALL"], "%s: capabilities not dropped" % name)
    check(not sc.get("privileged"), "%s: privileged" % name)
    seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    check(seccomp == "RuntimeDefault", "%s: seccompProfile not RuntimeDefault" % name)
    res = container.get("resources") or {}
    check(res.get("requests") and (res.get("limits") or {}).get("memory"),
          "%s: no resource requests / memory limit" % name)


for c in list(containers.values()) + list(inits.values()):
    security("streams-placer/" + c["name"], pod, c)
    check(c.get("image", "").startswith("streams-placer/streams-placer:"),
          "%s: image %s" % (c["name"], c.get("image")))

pdb = one(base, "PodDisruptionBudget", "streams-placer")
check(pdb.get("spec", {}).get("minAvailable") == 1, "PDB: minAvailable is not 1")
sel = pdb.get("spec", {}).get("selector", {}).get("matchLabels", {})
check(sel and all(pod_labels.get(k) == v for k, v in sel.items()), "PDB does not select the placer")

# ---------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------
for name, leader in (("streams-placer-webhook", False), ("streams-placer-extender", True)):
    svc = one(base, "Service", name)
    sel = dict(svc.get("spec", {}).get("selector") or {})
    if leader:
        check(sel.pop(LEADER_LABEL, None) == "true",
              "Service %s does not select %s=true (the leader)" % (name, LEADER_LABEL))
    else:
        check(LEADER_LABEL not in sel, "Service %s selects the leader only" % name)
    check(sel and all(pod_labels.get(k) == v for k, v in sel.items()),
          "Service %s does not select the placer's pods" % name)
    p = (svc.get("spec", {}).get("ports") or [{}])
    check(len(p) == 1 and p[0].get("port") == 443 and resolve(p[0].get("targetPort")) == 8443,
          "Service %s: want 443 -> 8443, got %r" % (name, p))

# ---------------------------------------------------------------------------
# Webhooks
# ---------------------------------------------------------------------------
FAILURE = {"pods-create.mutate.placement.streams.io": "Fail",
           "pods-update.mutate.placement.streams.io": "Ignore",
           "pods.validate.placement.streams.io": "Ignore",
           "hostpools.validate.placement.streams.io": "Fail"}
covered = set()
called_hosts = set()  # (service, namespace) that kube-apiserver and kube-scheduler call
for kind, path in (("MutatingWebhookConfiguration", "/webhook/mutate"),
                   ("ValidatingWebhookConfiguration", "/webhook/validate")):
    cfg = one(base, kind, "streams-placer")
    for wh in cfg.get("webhooks") or []:
        n = wh.get("name")
        svc = (wh.get("clientConfig") or {}).get("service") or {}
        called_hosts.add((svc.get("name"), svc.get("namespace")))
        check(svc.get("name") == "streams-placer-webhook" and svc.get("namespace") == NS
              and svc.get("port") == 443 and svc.get("path") == path and (path, "POST") in ROUTES,
              "%s: clientConfig.service %r, want streams-placer-webhook.%s:443%s" % (n, svc, NS, path))
        # the placer injects it (--webhook-config); a value here would be put
        # back by every `kubectl apply` and fail TLS until the next sync
        check("caBundle" not in (wh.get("clientConfig") or {}),
              "%s: clientConfig.caBundle is set; the placer injects it (--webhook-config)" % n)
        check(wh.get("sideEffects") == "NoneOnDryRun", "%s: sideEffects" % n)
        check(wh.get("admissionReviewVersions") == ["v1"], "%s: admissionReviewVersions" % n)
        check(wh.get("timeoutSeconds") == 5, "%s: timeoutSeconds" % n)
        check(wh.get("matchPolicy") == "Equivalent", "%s: matchPolicy" % n)
        check(wh.get("failurePolicy") == FAILURE.get(n),
              "%s: failurePolicy %s, the documented choice is %s"
              % (n, wh.get("failurePolicy"), FAILURE.get(n)))
        nsel = (wh.get("namespaceSelector") or {}).get("matchExpressions") or []
        check({"key": "kubernetes.io/metadata.name", "operator": "NotIn",
               "values": ["kube-system", NS]} in nsel,
              "%s: namespaceSelector does not exclude kube-system and %s" % (n, NS))
        for rule in wh.get("rules") or []:
            for r in rule.get("resources") or []:
                check("/" not in r and "*" not in r, "%s: rule on %s" % (n, r))
                for g in rule.get("apiGroups") or []:
                    for v in rule.get("apiVersions") or []:
                        for op in rule.get("operations") or []:
                            covered.add((kind[0], g, v, r, op))
                if r == "pods":
                    osel = (wh.get("objectSelector") or {}).get("matchExpressions") or []
                    check({"key": JOB_LABEL, "operator": "Exists"} in osel,
                          "%s: pods without objectSelector %s Exists" % (n, JOB_LABEL))
want = {("V", "", "v1", "pods", op) for op in ("CREATE", "UPDATE", "DELETE")}
want |= {("V", GROUP, VERSION, "hostpools", op) for op in ("CREATE", "UPDATE")}
want |= {("M", "", "v1", "pods", op) for op in ("CREATE", "UPDATE")}
check(covered == want, "webhook rules cover %s, expected %s" % (sorted(covered), sorted(want)))

# Every webhook configuration that calls the placer gets its caBundle from it
# (--webhook-config names it), and every name given is one of them.
calling = set()
for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
    for cfg in objs(base, kind):
        for wh in cfg.get("webhooks") or []:
            if ((wh.get("clientConfig") or {}).get("service") or {}).get("name") in fronting:
                calling.add(cfg["metadata"]["name"])
check(calling and set(webhook_configs) == calling,
      "Deployment --webhook-config %s, but the webhook configurations calling the placer are %s"
      % (sorted(webhook_configs), sorted(calling)))

# ---------------------------------------------------------------------------
# The second scheduler
# ---------------------------------------------------------------------------
sdep = one(base, "Deployment", "streams-scheduler")
spod = sdep.get("spec", {}).get("template", {}).get("spec", {})
sc = (spod.get("containers") or [{}])[0]
security("streams-scheduler", spod, sc)
check(sc.get("image", "").startswith("registry.k8s.io/kube-scheduler:"),
      "streams-scheduler image %s" % sc.get("image"))
svols = {v["name"]: v for v in spod.get("volumes") or []}
smounts = {m["mountPath"].rstrip("/"): svols.get(m["name"], {}) for m in sc.get("volumeMounts") or []}
conf_arg = [a for a in sc.get("command", []) + sc.get("args", []) if a.startswith("--config=")]
sconf = None
if check(len(conf_arg) == 1, "streams-scheduler: no --config"):
    d, f = os.path.split(conf_arg[0].split("=", 1)[1])
    cmname = (smounts.get(d) or {}).get("configMap", {}).get("name")
    cm = one(base, "ConfigMap", cmname) if cmname else {}
    if check(f in (cm.get("data") or {}), "streams-scheduler --config: %s not in a mounted ConfigMap" % f):
        sconf = yaml.safe_load(cm["data"][f])
if sconf:
    check(sconf.get("apiVersion") == "kubescheduler.config.k8s.io/v1"
          and sconf.get("kind") == "KubeSchedulerConfiguration", "scheduler config: apiVersion/kind")
    profs = sconf.get("profiles") or []
    check(len(profs) == 1 and profs[0].get("schedulerName") == "streams-scheduler",
          "scheduler config: profile streams-scheduler")
    pct = (profs[0] if profs else {}).get("percentageOfNodesToScore",
                                           sconf.get("percentageOfNodesToScore"))
    check(pct == 100, "scheduler config: percentageOfNodesToScore %r, want 100" % pct)
    check(policy_doc and policy_doc.get("schedulerName") == "streams-scheduler",
          "policy.json schedulerName does not name the scheduler profile")
    le = sconf.get("leaderElection") or {}
    check(le.get("leaderElect") is True and le.get("resourceName") not in (None, "kube-scheduler")
          and le.get("resourceNamespace") == NS, "scheduler config: leader election %r" % le)
    role = one(base, "Role", "streams-scheduler")
    check(any(r.get("resourceNames") == [le.get("resourceName")] and "leases" in r.get("resources", [])
              and {"get", "update"} <= set(r.get("verbs", [])) for r in role.get("rules") or []),
          "Role streams-scheduler does not grant its Lease %s" % le.get("resourceName"))
    for crb, cr in (("streams-scheduler-kube-scheduler", "system:kube-scheduler"),
                    ("streams-scheduler-volume-scheduler", "system:volume-scheduler")):
        b = one(base, "ClusterRoleBinding", crb)
        check(b.get("roleRef", {}).get("name") == cr and {"kind": "ServiceAccount",
              "name": spod.get("serviceAccountName"), "namespace": NS} in (b.get("subjects") or []),
              "ClusterRoleBinding %s does not bind %s to the scheduler" % (crb, cr))
    exts = sconf.get("extenders") or []
    if check(len(exts) == 1, "scheduler config: want one extender"):
        e = exts[0]
        m = re.match(r"https://([a-z0-9-]+)\.([a-z0-9-]+)\.svc:443(/.*)$", e.get("urlPrefix", ""))
        if check(m, "extender urlPrefix %r is not https://SVC.NS.svc:443/PATH" % e.get("urlPrefix")):
            check(m.group(1) == "streams-placer-extender" and m.group(2) == NS,
                  "extender urlPrefix does not name the leader-only Service")
            called_hosts.add((m.group(1), m.group(2)))
            for verb in ("filterVerb", "prioritizeVerb", "bindVerb"):
                route = m.group(3) + "/" + e.get(verb, "?")
                check((route, "POST") in ROUTES, "extender %s -> %s is not a route" % (verb, route))
        check(e.get("enableHTTPS") is True and e.get("nodeCacheCapable") is True
              and e.get("ignorable") is False and e.get("httpTimeout"),
              "extender: enableHTTPS/nodeCacheCapable/ignorable/httpTimeout %r" % e)
        check("preemptVerb" not in e, "extender: preemptVerb, but there is no preempt route")
        w = e.get("weight", 0)
        check(isinstance(w, int) and 5 * 10 * w > 1300,
              "extender weight %r: a 5-point tier must outweigh the default plugins' 1300" % w)
        tls = e.get("tlsConfig") or {}
        check(not tls.get("insecure"), "extender: insecure TLS")
        # caData would take precedence over caFile and go stale at a CA rotation
        check(not tls.get("caData"), "extender: tlsConfig.caData set (it overrides caFile)")
        # caFile: the key certmgr writes (CERTMGR_KEY_CA_CRT) of the ConfigMap
        # the placer publishes (--ca-configmap), mounted, not optional (an
        # empty directory would start kube-scheduler without its CA)
        caf = tls.get("caFile", "")
        d, f = os.path.split(caf)
        vol = (smounts.get(d) or {}).get("configMap") or {}
        items = {i.get("path"): i.get("key") for i in vol.get("items") or []}
        key = items.get(f) if vol.get("items") else f
        check(vol.get("name") == ca_configmap and key == CA_KEY and not vol.get("optional"),
              "extender caFile %s is not key %s of the ConfigMap %s (--ca-configmap) mounted "
              "(not optional): volume %r" % (caf, CA_KEY, ca_configmap, vol))
        check("set_string(data, CERTMGR_KEY_CA_CRT, bundle)"
              in (c_function(certmgr_api_c, "configmap_once") or ""),
              "certmgr_api.c: configmap_once() no longer writes the bundle as "
              "CERTMGR_KEY_CA_CRT, the key the scheduler mounts")

# ---------------------------------------------------------------------------
# The serving certificate covers every name its callers use
# ---------------------------------------------------------------------------
# certmgr names the certificate after each --cert-service with
# certs_service_names() in the service account's namespace (the Deployment's);
# `certs create --service --namespace` calls the same function, so its
# certificate shows the names certmgr's will have. kube-apiserver calls a
# webhook Service as NAME.NS.svc, kube-scheduler the urlPrefix host.
check(re.search(r"certs_service_names\(svc, m->ns,", read("certmgr/certmgr.c")),
      "certmgr/certmgr.c: the certificate's names no longer come from certs_service_names")
sans = set()
for i, svc in enumerate(cert_services):
    out = os.path.join(TMP, "pki-%d" % i)
    made = subprocess.run([BIN, "certs", "create", "--out-dir", out, "--service", svc,
                           "--namespace", NS], capture_output=True, text=True)
    if not check(made.returncode == 0, "certs create --service %s: %s" % (svc, made.stderr)):
        continue
    shown = subprocess.run([BIN, "certs", "show", os.path.join(out, "tls.crt")],
                           capture_output=True, text=True)
    check(shown.returncode == 0, "certs show: %s" % shown.stderr)
    sans |= set(re.findall(r"[a-z0-9][a-z0-9.-]*\.svc(?:\.cluster\.local)?\b", shown.stdout))
for svc, ns in sorted(called_hosts, key=str):
    host = "%s.%s.svc" % (svc, ns)
    check(host in sans, "the serving certificate (--cert-service %s) does not cover %s, which "
          "its callers use" % (cert_services, host))

# ---------------------------------------------------------------------------
# The Dockerfile
# ---------------------------------------------------------------------------
docker = read("Dockerfile")
runtime = docker.split("AS runtime", 1)[-1]
check(re.search(r'ENTRYPOINT \["/usr/local/bin/streams-placer", "serve"\]', runtime),
      "Dockerfile: ENTRYPOINT is not streams-placer serve (the Deployment passes serve's flags)")
check(re.search(r"^USER 65532:65532$", runtime, re.M), "Dockerfile: not USER 65532 (runAsUser)")
check("scripts/install-deps.sh" in docker, "Dockerfile: the build stage does not use install-deps.sh")
pkgs = set(re.findall(r"\b(lib[a-z0-9.+-]+)\b", runtime.split("apt-get install", 1)[-1].split("&&")[0]))
for line in open(os.path.join(TMP, "libs.txt"), encoding="utf-8"):
    so, _, pkg = line.strip().partition(" ")
    if pkg in ("libc6", ""):
        check(pkg, "Dockerfile check: no Debian package provides %s" % so)
        continue
    check(pkg in pkgs, "Dockerfile: the runtime stage lacks %s (for %s)" % (pkg, so))

sys.exit(1 if failures else 0)
PY
rc=$?
[ $rc -eq 0 ] || failures=$((failures + 1))
[ $rc -eq 0 ] || [ $rc -eq 1 ] || exit 99

finish test_manifests
