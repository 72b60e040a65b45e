#!/bin/sh
# End-to-end test against a real cluster, run only when SP_E2E_KUBECONFIG
# names a kubeconfig with cluster-admin rights (exit 77, skipped, otherwise).
# It applies the CRDs from manifests/, creates labelled Node objects (no
# kubelet needed), a namespace with HostPools and PE pods, runs
# `streams-placer serve --mode cluster` against the cluster on loopback,
# drives the pods through the webhook, filter and bind as kube-apiserver and
# kube-scheduler would, and asserts the PEPlacements, the HostPool status,
# the pods' bindings and the Events in the API server. It cleans up after
# itself (namespace, nodes; the CRDs stay, as they may have been there).
# Exit status: 0 pass, 1 fail, 77 skip, 99 error.

[ -n "${SP_E2E_KUBECONFIG:-}" ] || { echo "SP_E2E_KUBECONFIG not set: skip"; exit 77; }
: "${top_srcdir:=.}" "${top_builddir:=.}"
command -v kubectl >/dev/null 2>&1 || { echo "kubectl not found: skip"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "curl not found: skip"; exit 77; }

export KUBECONFIG="$SP_E2E_KUBECONFIG"
bin="$(cd "$top_builddir" && pwd)/streams-placer"
src="$(cd "$top_srcdir" && pwd)"
run="e2e$$"
ns="sp-$run"
tmp="$(mktemp -d)"
pid=
failures=0
k() { timeout 60 kubectl "$@"; }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    k delete namespace "$ns" --wait=false >/dev/null 2>&1
    for n in 1 2 3; do k delete node "$run-n$n" >/dev/null 2>&1; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 99' INT TERM

k apply -f "$src/manifests/base/crd-hostpools.yaml" -f "$src/manifests/base/crd-peplacements.yaml" >/dev/null || { echo "cannot apply the CRDs" >&2; exit 99; }
k wait --for condition=established --timeout=60s crd/hostpools.placement.streams.io \
    crd/peplacements.placement.streams.io >/dev/null || exit 99
k create namespace "$ns" >/dev/null || exit 99

# --- nodes, pools, pods -------------------------------------------------------
for n in 1 2 3; do
    tag=""
    [ $n -lt 3 ] && tag="tag.streams.io/ssd: \"true\""
    cat <<YAML | k apply -f - >/dev/null || exit 99
apiVersion: v1
kind: Node
metadata:
  name: $run-n$n
  labels:
    e2e: "$run"
    $tag
YAML
    # no kubelet: give the node capacity by hand
    k patch node "$run-n$n" --subresource=status --type=merge \
        -p '{"status":{"allocatable":{"cpu":"4","memory":"8Gi","pods":"110"},"capacity":{"cpu":"4","memory":"8Gi","pods":"110"}}}' \
        >/dev/null || exit 99
done
cat <<YAML | k apply -n "$ns" -f - >/dev/null || exit 99
apiVersion: placement.streams.io/v1alpha1
kind: HostPool
metadata:
  name: disk
spec:
  tags: [ssd]
  size: 2
YAML
for pe in 0 1 2; do
    ann='streams.io/host-exlocation: "x"'
    [ $pe -eq 2 ] && ann='streams.io/host-pool: "nowhere"'
    cat <<YAML | k apply -n "$ns" -f - >/dev/null || exit 99
apiVersion: v1
kind: Pod
metadata:
  name: job1-pe$pe
  labels: {streams.io/job: job1, streams.io/pe: "$pe"}
  annotations:
    $ann
spec:
  schedulerName: streams-scheduler-e2e-none  # no real scheduler takes them: the test does
  containers:
  - name: pe
    image: registry.k8s.io/pause:3.9
    resources: {requests: {cpu: 500m, memory: 512Mi}}
YAML
done

# --- the server ---------------------------------------------------------------
"$bin" serve --mode cluster --kubeconfig "$KUBECONFIG" --no-leader-elect \
    --listen 127.0.0.1:0 --port-file "$tmp/port" --state-dir "$tmp" 2>"$tmp/log" &
pid=$!
i=0
until [ -s "$tmp/port" ] && curl -sf --cacert "$tmp/ca.crt" \
    "https://127.0.0.1:$(cat "$tmp/port")/readyz" >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -gt 300 ] && { cat "$tmp/log" >&2; echo "server not ready" >&2; exit 99; }
    sleep 0.2
done
url="https://127.0.0.1:$(cat "$tmp/port")"
post() { curl -sf --cacert "$tmp/ca.crt" -H 'Content-Type: application/json' --data-binary @- "$url$1"; }
nodes="[\"$run-n1\",\"$run-n2\",\"$run-n3\"]"

# --- drive each pod as kube-scheduler would -----------------------------------
for pe in 0 1 2; do
    pod=$(k get pod -n "$ns" "job1-pe$pe" -o json)
    uid=$(printf '%s' "$pod" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["uid"])')
    printf '{"Pod":%s,"NodeNames":%s}' "$pod" "$nodes" | post /scheduler/filter >"$tmp/f$pe" ||
        fail "filter job1-pe$pe"
    node=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); n=d.get("NodeNames") or []; print(n[0] if len(n)==1 else "")' "$tmp/f$pe")
    if [ $pe -lt 2 ]; then
        [ -n "$node" ] || fail "job1-pe$pe: no node: $(cat "$tmp/f$pe")"
        printf '{"PodName":"job1-pe%s","PodNamespace":"%s","PodUID":"%s","Node":"%s"}' \
            "$pe" "$ns" "$uid" "$node" | post /scheduler/bind >"$tmp/b$pe" || fail "bind job1-pe$pe"
        grep -q '"Error":""' "$tmp/b$pe" || fail "bind job1-pe$pe: $(cat "$tmp/b$pe")"
        [ "$(k get pod -n "$ns" "job1-pe$pe" -o jsonpath='{.spec.nodeName}')" = "$node" ] ||
            fail "job1-pe$pe is not bound to $node"
        [ "$(k get peplacement -n "$ns" "job1-$pe" -o jsonpath='{.status.phase}')" = Bound ] ||
            fail "PEPlacement job1-$pe is not Bound"
        eval "node$pe=\$node"
    else
        [ -z "$node" ] || fail "job1-pe2 should have no node"
    fi
done
[ "${node0:-a}" != "${node1:-a}" ] || fail "exlocated PEs share node ${node0:-}"
sleep 2
[ "$(k get peplacement -n "$ns" job1-2 -o jsonpath='{.status.phase}')" = Failed ] ||
    fail "PEPlacement job1-2 is not Failed"
k get events -n "$ns" --field-selector reason=FailedPlacement -o name | grep -q . ||
    fail "no FailedPlacement event"
hosts=$(k get hostpool -n "$ns" disk -o jsonpath='{.status.hosts}')
case "$hosts" in *"$run-n1"*"$run-n2"* | *"$run-n2"*"$run-n1"*) ;; *) fail "HostPool disk status.hosts: $hosts" ;; esac

# --- a deleted pod releases its placement ---------------------------------------
k delete pod -n "$ns" job1-pe0 --grace-period=0 --force >/dev/null 2>&1
sleep 3
[ "$(k get peplacement -n "$ns" job1-0 -o jsonpath='{.status.phase}')" = Released ] ||
    fail "PEPlacement job1-0 is not Released after the pod was deleted"

[ $failures -eq 0 ] || { echo "$failures failure(s)"; cat "$tmp/log" >&2; exit 1; }
echo "e2e: all checks passed"
exit 0
