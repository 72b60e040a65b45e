#!/usr/bin/env python3
"""Helpers of bench/run.sh: read measurements, print the benchmark table.

  report.py hist BEFORE AFTER ROUTE
      From two /metrics snapshots, the server-side latency of ROUTE between
      them (streams_placer_http_request_duration_seconds): prints
      "count=N mean_ms=M p50_ms=A p99_ms=B" (quantiles interpolated within
      the histogram's buckets, as Prometheus' histogram_quantile does).
  report.py counter BEFORE AFTER NAME
      The increase of the sample NAME (a full series name with labels).
  report.py median V1 V2 ...
      The median of the numbers given.
  report.py table RESULTS
      The table: RESULTS holds key=value lines written by run.sh.

Standard library only.
"""
import re
import statistics
import sys

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([-+0-9.eE]+|[+-]Inf|NaN)$')


def read_metrics(path):
    out = {}
    with open(path) as f:
        for line in f:
            m = SAMPLE.match(line.strip())
            if m:
                out[m.group(1) + (m.group(2) or '')] = float(m.group(3))
    return out


def buckets(metrics, route):
    prefix = 'streams_placer_http_request_duration_seconds_bucket{listener="https",route="%s",le="' % route
    rows = []
    for key, value in metrics.items():
        if key.startswith(prefix):
            le = key[len(prefix):-2]
            rows.append((float('inf') if le == '+Inf' else float(le), value))
    return sorted(rows)


def quantile(q, rows):
    """rows: [(upper bound, cumulative count)], increasing."""
    total = rows[-1][1] if rows else 0
    if total <= 0:
        return float('nan')
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, count in rows:
        if count >= rank:
            if bound == float('inf'):
                return lower
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, count
    return lower


def cmd_hist(before, after, route):
    b, a = read_metrics(before), read_metrics(after)
    rb, ra = dict(buckets(b, route)), buckets(a, route)
    rows = [(bound, count - rb.get(bound, 0.0)) for bound, count in ra]
    key = '{listener="https",route="%s"}' % route
    n = a.get('streams_placer_http_request_duration_seconds_count' + key, 0) - \
        b.get('streams_placer_http_request_duration_seconds_count' + key, 0)
    s = a.get('streams_placer_http_request_duration_seconds_sum' + key, 0) - \
        b.get('streams_placer_http_request_duration_seconds_sum' + key, 0)
    mean = s / n * 1e3 if n else float('nan')
    print('count=%d mean_ms=%.3f p50_ms=%.3f p99_ms=%.3f'
          % (n, mean, quantile(0.5, rows) * 1e3, quantile(0.99, rows) * 1e3))


def cmd_counter(before, after, name):
    print('%d' % (read_metrics(after).get(name, 0) - read_metrics(before).get(name, 0)))


def cmd_median(values):
    nums = [float(v) for v in values if v not in ('', 'nan')]
    print('%.3f' % statistics.median(nums) if nums else 'nan')


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------

def load(path):
    r = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip('\n')
            if '=' in line and not line.startswith('#'):
                k, v = line.split('=', 1)
                r[k] = v
    return r


def num(r, key):
    try:
        v = float(r.get(key, 'nan'))
        return None if v != v else v
    except ValueError:
        return None


def fmt(v, unit, digits=2):
    if v is None:
        return '-'
    if unit == '/s':
        return '{:,.0f}/s'.format(v)
    if unit == 'MiB':
        return '{:,.0f} MiB'.format(v)
    if unit == 'x':
        return '{:.2f}x'.format(v)
    return '{:.{d}f} {}'.format(v, unit, d=digits)


def judged(v, unit, limit, op):
    """'<figure> (target) PASS|FAIL'."""
    if v is None:
        return '- (%s%s) n/a' % (op, fmt(limit, unit)), None
    ok = v <= limit if op == '<=' else v >= limit
    return '%s (%s%s) %s' % (fmt(v, unit), op, fmt(limit, unit), 'PASS' if ok else 'FAIL'), ok


def cmd_table(path):
    r = load(path)
    rows, verdicts = [], []

    def row(sc, what, size, thr='-', p50='-', p99='-', rss='-', note=''):
        rows.append((sc, what, size, thr, p50, p99, rss, note))

    def j(key, unit, limit, op, name):
        text, ok = judged(num(r, key), unit, limit, op)
        if ok is not None:
            verdicts.append((name, ok))
        return text

    s1 = r.get('s1.size', '5,000 nodes, 50,000 PEs')
    if 's1.filter.rps' in r or 's1.handler.filter.p99_ms' in r:
        rss = fmt(num(r, 's1.hwm_mib'), 'MiB')
        row('1', 'filter NodeNames: wrk TLS c=1', s1, fmt(num(r, 's1.filter.rps'), '/s'),
            fmt(num(r, 's1.filter.p50_ms'), 'ms'), fmt(num(r, 's1.filter.p99_ms'), 'ms'), rss,
            'client side; answer %s KiB' % r.get('s1.filter.answer_kib', '?'))
        row('1', '  server side (/metrics)', '', '-', fmt(num(r, 's1.filter.srv.p50_ms'), 'ms'),
            j('s1.filter.srv.p99_ms', 'ms', 2.0, '<=', '1 filter p99 server side'), '',
            'histogram, interpolated in buckets')
        row('1', '  handler in-process', '', fmt(num(r, 's1.handler.filter.rps'), '/s'),
            fmt(num(r, 's1.handler.filter.p50_ms'), 'ms'),
            fmt(num(r, 's1.handler.filter.p99_ms'), 'ms'), '', 'exact, no TLS/HTTP')
        row('1', 'filter NodeNames: wrk TLS c=2', s1, fmt(num(r, 's1.filter2.rps'), '/s'),
            fmt(num(r, 's1.filter2.p50_ms'), 'ms'), fmt(num(r, 's1.filter2.p99_ms'), 'ms'), '',
            'throughput on 2 cores')
        row('1', 'prioritize NodeNames: wrk c=1', s1, fmt(num(r, 's1.prio.rps'), '/s'),
            fmt(num(r, 's1.prio.p50_ms'), 'ms'), fmt(num(r, 's1.prio.p99_ms'), 'ms'), '',
            'client side; 5,000 names scored')
        row('1', '  server side (/metrics)', '', '-', fmt(num(r, 's1.prio.srv.p50_ms'), 'ms'),
            j('s1.prio.srv.p99_ms', 'ms', 2.0, '<=', '1 prioritize p99 server side'), '',
            'histogram, interpolated in buckets')
        row('1', '  handler in-process', '', fmt(num(r, 's1.handler.prio.rps'), '/s'),
            fmt(num(r, 's1.handler.prio.p50_ms'), 'ms'),
            fmt(num(r, 's1.handler.prio.p99_ms'), 'ms'), '', 'exact, no TLS/HTTP')
    if 's2.filter.rps' in r:
        row('2', 'filter NodeList: wrk TLS c=1', r.get('s2.size', '1,000 nodes'),
            fmt(num(r, 's2.filter.rps'), '/s'), fmt(num(r, 's2.filter.p50_ms'), 'ms'),
            fmt(num(r, 's2.filter.p99_ms'), 'ms'), fmt(num(r, 's2.hwm_mib'), 'MiB'),
            'request %s MiB, answer %s KiB' % (r.get('s2.body_mib', '?'),
                                               r.get('s2.answer_kib', '?')))
        row('2', '  server side (/metrics)', '', '-', fmt(num(r, 's2.filter.srv.p50_ms'), 'ms'),
            fmt(num(r, 's2.filter.srv.p99_ms'), 'ms'), '', 'no contract figure')
    for verb in ('validate', 'mutate'):
        k = 's3.%s' % verb
        if k + '.rps' not in r:
            continue
        conn = r.get('s3.conns', '?')
        row('3', '%s: wrk TLS %s' % (verb, conn), r.get('s3.size', 'typical PE pod'),
            j(k + '.rps', '/s', 20000, '>=', '3 %s reviews/s' % verb),
            fmt(num(r, k + '.p50_ms'), 'ms'), fmt(num(r, k + '.p99_ms'), 'ms'),
            fmt(num(r, 's3.hwm_mib'), 'MiB'),
            'answer %s B; server p99 %s' % (r.get(k + '.answer_bytes', '?'),
                                          fmt(num(r, k + '.srv.p99_ms'), 'ms', 3)))
        row('3', '  nginx, same answer size', '', fmt(num(r, k + '.nginx.rps'), '/s'),
            fmt(num(r, k + '.nginx.p50_ms'), 'ms'), fmt(num(r, k + '.nginx.p99_ms'), 'ms'), '',
            'static return, same wrk settings')
        row('3', '  nginx / streams-placer', '', j(k + '.ratio', 'x', 2.0, '<=',
                                                  '3 %s within 2x of nginx' % verb),
            '', '', '', 'median of per-run ratios')
        if k + '.handler.p50_ms' in r:
            row('3', '  handler in-process', '', fmt(num(r, k + '.handler.rps'), '/s'),
                fmt(num(r, k + '.handler.p50_ms'), 'ms', 3),
                fmt(num(r, k + '.handler.p99_ms'), 'ms', 3), '', 'exact, one thread')
    for mode, what in (('jobs', 'plan, jobs of 4-40 (plan_all)'),
                       ('single', 'plan, one job (plan_job)'),
                       ('busy', 'plan, jobs, 50,000 PEs bound')):
        k = 's4.%s' % mode
        if k + '.median_ms' not in r:
            continue
        med = num(r, k + '.median_ms')
        row('4', what, r.get(k + '.size', '10,000 PEs, 5,000 nodes'),
            '{:,.0f} PEs/s'.format(10000 / med * 1000) if med else '-',
            j(k + '.median_ms', 'ms', 200, '<=', '4 plan (%s) median' % mode),
            'max ' + fmt(num(r, k + '.max_ms'), 'ms', 1), fmt(num(r, k + '.rss_mib'), 'MiB'),
            'p50 = median of %s runs, CPU %s; unplaced %s' % (
                r.get(k + '.runs', '?'), fmt(num(r, k + '.cpu_median_ms'), 'ms', 1),
                r.get(k + '.unplaced', '?')))
    if 's5.rss_mib' in r:
        row('5', 'memory after load', r.get('s5.size', '5,000 nodes, 100,000 pods'),
            'load %s s' % r.get('s5.load_s', '?'), '-', '-',
            j('s5.rss_mib', 'MiB', 200, '<=', '5 resident memory'),
            'VmHWM %s; after filters %s' % (fmt(num(r, 's5.hwm_mib'), 'MiB'),
                                           fmt(num(r, 's5.rss_after_mib'), 'MiB')))

    head = ('#', 'scenario', 'size', 'throughput', 'p50', 'p99', 'peak RSS', 'notes')
    widths = [max(len(str(x[i])) for x in rows + [head]) for i in range(len(head))]
    line = '  '.join('-' * w for w in widths)
    print(r.get('machine', ''))
    print(line)
    print('  '.join(str(h).ljust(w) for h, w in zip(head, widths)).rstrip())
    print(line)
    for x in rows:
        print('  '.join(str(c).ljust(w) for c, w in zip(x, widths)).rstrip())
    print(line)
    passed = sum(1 for _, ok in verdicts if ok)
    print('contract: %d of %d PASS%s' % (passed, len(verdicts), ''.join(
        '\n  FAIL: ' + name for name, ok in verdicts if not ok)))


def main(argv):
    if len(argv) >= 5 and argv[1] == 'hist':
        cmd_hist(argv[2], argv[3], argv[4])
    elif len(argv) >= 5 and argv[1] == 'counter':
        cmd_counter(argv[2], argv[3], argv[4])
    elif len(argv) >= 2 and argv[1] == 'median':
        cmd_median(argv[2:])
    elif len(argv) == 3 and argv[1] == 'table':
        cmd_table(argv[2])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main(sys.argv)
