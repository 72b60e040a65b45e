-- wrk script for fixed-body POSTs (admission reviews, and the nginx
-- baseline driven the same way). bench/run.sh sets:
--   BENCH_BODY  the request body file
--   BENCH_PATH  the request path
local function slurp(path)
   local f = assert(io.open(path, "rb"))
   local s = f:read("*a")
   f:close()
   return s
end

wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/"
wrk.body = slurp(os.getenv("BENCH_BODY"))
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
   local secs = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f " ..
      "mean_ms=%.3f max_ms=%.3f errors=%d non2xx=%d bytes=%d\n",
      summary.requests, secs, summary.requests / secs, latency:percentile(50) / 1e3,
      latency:percentile(90) / 1e3, latency:percentile(99) / 1e3, latency.mean / 1e3,
      latency.max / 1e3, e.connect + e.read + e.write + e.timeout, e.status, summary.bytes))
end
