-- wrk script for fixed-body POSTs (admission reviews, and the nginx
-- baseline driven the same way). bench/run.sh sets:
--   BENCH_BODY  the request body file
--   BENCH_PATH  the request path
package.path = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "?.lua;" .. package.path
local common = require("common")
local slurp = common.slurp

wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/"
wrk.body = slurp(os.getenv("BENCH_BODY"))
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
   common.write_result(summary, latency)
end
