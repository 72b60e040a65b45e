-- What the wrk scripts of bench/ share: reading a file, numbering the
-- threads, and the RESULT line that bench/run.sh and bench/soak.sh parse.
-- Each script loads it from its own folder:
--   package.path = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") ..
--                  "?.lua;" .. package.path
--   local common = require("common")
local common = {}

function common.slurp(path)
   local f = assert(io.open(path, "rb"))
   local s = f:read("*a")
   f:close()
   return s
end

-- wrk's setup(): thread i gets tid = i, and is kept in common.threads (for
-- a done() that reads what each thread counted).
common.threads = {}
function common.setup(thread)
   common.threads[#common.threads + 1] = thread
   thread:set("tid", #common.threads)
end

-- The RESULT line of a run, from wrk's done() arguments.
function common.write_result(summary, latency)
   local secs = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f " ..
      "mean_ms=%.3f max_ms=%.3f errors=%d non2xx=%d bytes=%d\n",
      summary.requests, secs, summary.requests / secs, latency:percentile(50) / 1e3,
      latency:percentile(90) / 1e3, latency:percentile(99) / 1e3, latency.mean / 1e3,
      latency.max / 1e3, e.connect + e.read + e.write + e.timeout, e.status, summary.bytes))
end

return common
