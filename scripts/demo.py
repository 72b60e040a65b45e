#!/usr/bin/env python3
"""Drive a running streams-placer the way Kubernetes would, for the quick start.

For the example cluster (examples/): send every HostPool and every pending PE pod
through the admission webhook (mutate, then validate, as kube-apiserver does), then
schedule each pending PE as kube-scheduler does with the extender (filter over every
node, prioritize when more than one node is left, bind), and print where every PE went
and why any did not. Standard library only.

usage: demo.py --url https://127.0.0.1:PORT --ca CA.crt --examples DIR
"""
import argparse
import base64
import json
import ssl
import sys
import urllib.request


def post(ctx, url, path, body):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
        return json.loads(resp.read())


def review(kind, obj, uid, operation="CREATE"):
    group = "placement.streams.io" if kind == "HostPool" else ""
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid, "kind": {"group": group, "version": "v1", "kind": kind},
                        "operation": operation, "name": obj["metadata"].get("name", ""),
                        "namespace": obj["metadata"].get("namespace", "default"),
                        "object": obj}}


def admit(ctx, url, kind, obj, uid):
    """Mutate then validate; returns (allowed, message, patch ops)."""
    ops = []
    if kind == "Pod":
        answer = post(ctx, url, "/webhook/mutate?timeout=10s", review(kind, obj, uid))["response"]
        if answer.get("patch"):
            ops = json.loads(base64.b64decode(answer["patch"]))
        if not answer["allowed"]:
            return False, answer.get("status", {}).get("message", ""), ops
    answer = post(ctx, url, "/webhook/validate?timeout=10s", review(kind, obj, uid))["response"]
    return answer["allowed"], answer.get("status", {}).get("message", ""), ops


def schedule(ctx, url, pod, node_names):
    """filter, prioritize when needed, bind; returns (node, reason)."""
    args = {"Pod": pod, "Nodes": None, "NodeNames": node_names}
    result = post(ctx, url, "/scheduler/filter", args)
    if result.get("Error"):
        return None, result["Error"]
    kept = result.get("NodeNames") or []
    if not kept:
        reasons = {}
        for table in ("FailedNodes", "FailedAndUnresolvableNodes"):
            for node, why in (result.get(table) or {}).items():
                reasons.setdefault(why, []).append(node)
        return None, "; ".join(f"{', '.join(sorted(n))}: {why}" for why, n in sorted(reasons.items()))
    node = kept[0]
    if len(kept) > 1:
        scores = post(ctx, url, "/scheduler/prioritize", {**args, "NodeNames": kept})
        node = max(scores, key=lambda s: s["Score"])["Host"]
    meta = pod["metadata"]
    bound = post(ctx, url, "/scheduler/bind", {"PodName": meta["name"], "PodNamespace": meta["namespace"],
                                               "PodUID": meta["uid"], "Node": node})
    return (None, bound["Error"]) if bound.get("Error") else (node, "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--examples", required=True)
    opts = parser.parse_args()
    ctx = ssl.create_default_context(cafile=opts.ca)
    load = lambda name: json.load(open(f"{opts.examples}/{name}"))
    nodes = [n["metadata"]["name"] for n in load("nodes.json")["items"]]
    pools = load("hostpools.json")["items"]
    pods = [p for p in load("pods.json")["items"]
            if "streams.io/job" in p["metadata"].get("labels", {}) and not p["spec"].get("nodeName")]

    print(f"admission: {len(pools)} HostPools, {len(pods)} PE pods")
    for i, pool in enumerate(pools):
        ok, msg, _ = admit(ctx, opts.url, "HostPool", pool, f"pool-{i}")
        print(f"  HostPool {pool['metadata']['name']:<10} {'allowed' if ok else 'denied: ' + msg}")
    for i, pod in enumerate(pods):
        ok, msg, ops = admit(ctx, opts.url, "Pod", pod, f"pod-{i}")
        changes = ", ".join(sorted({op["path"].split("/")[2] for op in ops})) or "nothing"
        print(f"  Pod {pod['metadata']['name']:<12} {'allowed' if ok else 'denied: ' + msg}"
              f"  (mutation adds: {changes})")

    print(f"\nscheduling {len(pods)} pending PEs over {len(nodes)} nodes (filter, prioritize, bind):")
    unplaced = 0
    for pod in pods:
        meta = pod["metadata"]
        meta.setdefault("uid", f"{meta.get('namespace', 'default')}/{meta['name']}")
        node, reason = schedule(ctx, opts.url, pod, nodes)
        if node:
            print(f"  {meta['name']:<12} -> {node}")
        else:
            unplaced += 1
            print(f"  {meta['name']:<12} stays Pending: {reason}")
    print(f"\n{len(pods) - unplaced} placed, {unplaced} Pending with the reason above.")


if __name__ == "__main__":
    try:
        main()
    except OSError as e:
        sys.exit(f"demo: cannot talk to the server: {e}")
