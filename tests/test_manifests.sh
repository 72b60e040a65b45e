#!/bin/sh
# The deployment manifests against the code they deploy. `kubectl kustomize`
# builds manifests/ (offline) and manifests/with-certs/ (in a scratch copy,
# with a CA and serving pair made by `streams-placer certs create` exactly as
# manifests/README.md says); then Python checks every object, and where the
# manifests promise something about the code, reads the code:
#   - CRDs: group, version, names, structural schemas, CEL rules; HostPool
#     spec fields are those kobj/kobj_pool.c reads; PEPlacement spec and
#     status fields are exactly those reconciler/rec_placement.c writes and
#     reads, its phases svc/svc.c's phase names; printer columns point at
#     real fields;
#   - RBAC: every API call of reconciler/*.c (kapi_path segments, informer
#     paths, HTTP methods per function) has a rule, and every rule has a call;
#   - the Deployment: every argument is a flag `streams-placer help serve`
#     prints; ports, probe paths (app/app.c routes), POD_NAME, the mounts
#     behind --tls-cert/--tls-key/--policy/--state-dir, non-root read-only
#     security contexts, the TLS Secret never readable by others;
#   - Services, webhooks (paths = routes, selectors, failurePolicy,
#     sideEffects, caBundle placeholder vs the overlay's real CA), the
#     scheduler configuration (urlPrefix + verbs = routes, weight, TLS);
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

# The overlay, with certificates made as manifests/README.md makes them, in a
# writable copy (distcheck's source tree is read-only).
mkdir -p "$tmp/src" && cp -R "$srcdir/manifests" "$tmp/src/" && chmod -R u+w "$tmp/src" || exit 99
if ! "$bin" certs create --out-dir "$tmp/pki" \
        --service streams-placer-webhook --namespace streams-placer \
        --dns streams-placer-extender.streams-placer.svc \
        --dns streams-placer-extender.streams-placer.svc.cluster.local \
        >"$tmp/out" 2>"$tmp/err"; then
    fail "streams-placer certs create failed"
    sed 's/^/    /' "$tmp/err" >&2
fi
cp "$tmp/pki/ca.crt" "$tmp/pki/tls.crt" "$tmp/pki/tls.key" "$tmp/src/manifests/with-certs/" 2>/dev/null
if ! kubectl kustomize "$tmp/src/manifests/with-certs" >"$tmp/certs.yaml" 2>"$tmp/err"; then
    fail "kubectl kustomize manifests/with-certs/ failed"
    sed 's/^/    /' "$tmp/err" >&2
fi
"$bin" certs show "$tmp/pki/tls.crt" >"$tmp/tls-show.txt" 2>&1 || fail "certs show tls.crt failed"

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

python3 - "$srcdir" "$tmp" <<'PY'
import base64
import json
import os
import re
import sys

import yaml

SRC, TMP = sys.argv[1], sys.argv[2]
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
certs = load(os.path.join(TMP, "certs.yaml"))
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
# RBAC: every API call of the reconciler has a rule, every rule a call
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
]
VERB_OF = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
HELPERS = {"send_json", "write_lease"}  # take the method as a parameter

for group, res, verb, scope, text, func, evidence in CALLS:
    body = c_function(text, func)
    if not check(body is not None, "reconciler: function %s() not found (RBAC table stale)" % func):
        continue
    for e in evidence:
        check(e in body, "reconciler: %s() no longer has %s, which the rule %s %s needs"
              % (func, e, verb, res))

# Every method used in a function is a call in the table.
table_methods = {(func, m) for _, _, verb, _, _, func, ev in CALLS for m in VERB_OF
                 if '"%s"' % m in ev}
for name, text in (("rec.c", rec_c), ("rec_lease.c", lease_c)):
    for func, body in c_functions(text).items():
        if func in HELPERS:
            continue
        for m in VERB_OF:
            if '"%s"' % m in body:
                check((func, m) in table_methods,
                      "reconciler/%s: %s() sends %s, which no RBAC rule accounts for"
                      % (name, func, m))

# Every resource the code names is in the table, and back.
code_res = set()
for text in (rec_c, lease_c):
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
table_res = {res for _, res, *_ in CALLS}
check(code_res == table_res, "reconciler resources %s, RBAC table %s"
      % (sorted(code_res), sorted(table_res)))

# The rules: exactly the table, at the right scope.
m = re.search(r"--lease-name=(\S+)", yaml.safe_dump(objs(base, "Deployment", "streams-placer")))
lease_name = m.group(1) if m else "streams-placer"
granted = set()
for kind, scope in (("ClusterRole", "cluster"), ("Role", "namespace")):
    role = one(base, kind, "streams-placer")
    for rule in role.get("rules") or []:
        for g in rule.get("apiGroups") or []:
            for r in rule.get("resources") or []:
                for v in rule.get("verbs") or []:
                    check("*" not in (g, r, v), "%s streams-placer: a wildcard" % kind)
                    granted.add((g, r, v, scope))
                    if r == "leases" and v in ("get", "update"):
                        check(rule.get("resourceNames") == [lease_name],
                              "Role streams-placer: leases %s not limited to %s"
                              % (v, lease_name))
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
dep = one(base, "Deployment", "streams-placer")
pod = (dep.get("spec") or {}).get("template", {}).get("spec", {})
pod_labels = (dep.get("spec") or {}).get("template", {}).get("metadata", {}).get("labels", {})
containers = {c["name"]: c for c in pod.get("containers") or []}
inits = {c["name"]: c for c in pod.get("initContainers") or []}
server = containers.get("streams-placer", {})
volumes = {v["name"]: v for v in pod.get("volumes") or []}
check(dep.get("spec", {}).get("replicas") == 2, "streams-placer: not 2 replicas")
check(pod.get("serviceAccountName") == "streams-placer", "streams-placer: service account")
check(pod.get("automountServiceAccountToken") is not False, "streams-placer: no token mounted")

args = server.get("args") or []
missing = [a.split("=")[0] for a in args if a.split("=")[0] not in FLAGS]
if missing:
    cluster = {"--mode", "--kubeconfig", "--context", "--no-leader-elect", "--lease-name",
               "--lease-namespace", "--lease-duration", "--renew-deadline", "--retry-period"}
    if set(missing) <= cluster:
        fail("`streams-placer help serve` does not print %s: this build lacks the cluster "
             "wiring of `serve` (the manifests need it)" % " ".join(missing))
    else:
        fail("Deployment args not printed by `streams-placer help serve`: %s" % missing)
opts = dict(a.split("=", 1) for a in args if "=" in a)
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


secret_vols = [v for v in volumes.values() if "secret" in v]
tls_vols = [v for v in secret_vols if v["secret"].get("secretName") == "streams-placer-tls"]
if check(len(tls_vols) == 1, "Deployment: no volume of the Secret streams-placer-tls"):
    v = tls_vols[0]
    mode = v["secret"].get("defaultMode", 0o644)
    # the server refuses a key others may read or its group may change
    # (certs/certs_file.c); the pod's fsGroup gives it group read
    check(mode & 0o337 == 0, "TLS Secret volume defaultMode %o: must be 0400 or 0440 "
          "(never writable, never readable by others)" % mode)
    check(pod.get("securityContext", {}).get("fsGroup") ==
          (server.get("securityContext") or {}).get("runAsUser",
                                                    pod.get("securityContext", {}).get("runAsUser")),
          "Deployment: fsGroup must be the server's uid so it can read the key through its group")
    for flag in ("--tls-cert", "--tls-key"):
        where = mount_of(server, opts.get(flag, "/nonexistent"))
        check(where and where[0] is v and where[2].get("readOnly"),
              "Deployment %s: not read from the TLS Secret volume (read-only)" % flag)
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
PLACEHOLDER = "REPLACE ME"
FAILURE = {"pods-create.mutate.placement.streams.io": "Fail",
           "pods-update.mutate.placement.streams.io": "Ignore",
           "pods.validate.placement.streams.io": "Ignore",
           "hostpools.validate.placement.streams.io": "Fail"}
covered = set()
for kind, path in (("MutatingWebhookConfiguration", "/webhook/mutate"),
                   ("ValidatingWebhookConfiguration", "/webhook/validate")):
    cfg = one(base, kind, "streams-placer")
    for wh in cfg.get("webhooks") or []:
        n = wh.get("name")
        svc = (wh.get("clientConfig") or {}).get("service") or {}
        check(svc.get("name") == "streams-placer-webhook" and svc.get("namespace") == NS
              and svc.get("port") == 443 and svc.get("path") == path and (path, "POST") in ROUTES,
              "%s: clientConfig.service %r, want streams-placer-webhook.%s:443%s" % (n, svc, NS, path))
        try:
            ca = base64.b64decode(wh["clientConfig"].get("caBundle", ""), validate=True)
        except (ValueError, KeyError):
            ca = b""
        check(PLACEHOLDER.encode() in ca or ca.startswith(b"-----BEGIN CERTIFICATE-----"),
              "%s: caBundle is neither the documented placeholder nor a PEM CA" % n)
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
        caf = tls.get("caFile", "")
        d, f = os.path.split(caf)
        vol = smounts.get(d) or {}
        check(vol.get("secret", {}).get("secretName") == "streams-placer-ca"
              and f in [i.get("path") for i in vol["secret"].get("items") or []],
              "extender caFile %s is not ca.crt of the Secret streams-placer-ca" % caf)

# ---------------------------------------------------------------------------
# The overlay with real certificates
# ---------------------------------------------------------------------------
pki = os.path.join(TMP, "pki")
if certs and os.path.exists(os.path.join(pki, "ca.crt")):
    ca = open(os.path.join(pki, "ca.crt"), "rb").read()
    tls_secrets = [s for s in objs(certs, "Secret") if s.get("type") == "kubernetes.io/tls"]
    ca_secrets = [s for s in objs(certs, "Secret") if s.get("type") != "kubernetes.io/tls"]
    if check(len(tls_secrets) == 1 and len(ca_secrets) == 1, "with-certs: want one TLS and one CA Secret"):
        t, c = tls_secrets[0], ca_secrets[0]
        for k in ("tls.crt", "tls.key"):
            check(base64.b64decode(t["data"][k]) == open(os.path.join(pki, k), "rb").read(),
                  "with-certs: Secret %s is not the file" % k)
        check(base64.b64decode(c["data"]["ca.crt"]) == ca, "with-certs: CA Secret is not ca.crt")
        check(set(c["data"]) == {"ca.crt"}, "with-certs: the CA Secret holds more than ca.crt")
        d = one(certs, "Deployment", "streams-placer", "with-certs")
        names = [v.get("secret", {}).get("secretName") for v in
                 d["spec"]["template"]["spec"]["volumes"]]
        check(t["metadata"]["name"] in names, "with-certs: the placer does not mount the generated TLS Secret")
        d = one(certs, "Deployment", "streams-scheduler", "with-certs")
        names = [v.get("secret", {}).get("secretName") for v in
                 d["spec"]["template"]["spec"]["volumes"]]
        check(c["metadata"]["name"] in names, "with-certs: the scheduler does not mount the generated CA")
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        for wh in one(certs, kind, "streams-placer", "with-certs").get("webhooks") or []:
            got = base64.b64decode(re.sub(r"\s", "", wh["clientConfig"].get("caBundle", "")))
            check(got == ca, "with-certs: %s caBundle is not ca.crt" % wh["name"])
    show = open(os.path.join(TMP, "tls-show.txt"), encoding="utf-8").read()
    for host in ("streams-placer-webhook.%s.svc" % NS, "streams-placer-extender.%s.svc" % NS):
        check(re.search(r"\b%s\b" % re.escape(host), show),
              "the README's `certs create` does not cover %s" % host)
else:
    fail("with-certs: not built (see above)")

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
