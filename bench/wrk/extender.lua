-- wrk script for the scheduler extender benchmarks (bench/run.sh sets the
-- environment). Every request is an ExtenderArgs for a PE pod built from
-- bench/stream-pod.json: a stream of NEW pods (jobs of 8 PEs arriving PE by
-- PE, with the constraints of bench/stream-annotations.txt), or, with
-- BENCH_CYCLE=N, the first N of that stream again and again (prioritize of
-- pods already filtered). The same names come out of bench-sched.c.
--
--   BENCH_VERB      filter | prioritize
--   BENCH_NODES     NodeNames mode: send worker-00000 .. worker-(N-1)
--   BENCH_NODELIST  NodeList mode: the file whose NodeList goes in Nodes
--   BENCH_PREFIX    job name prefix (one per run, so that pods are new)
--   BENCH_CYCLE     0: new pods; N: cycle over the first N
--   BENCH_DIR       the bench/ source directory

local dir = os.getenv("BENCH_DIR") or "bench"
local verb = os.getenv("BENCH_VERB") or "filter"
local n_nodes = tonumber(os.getenv("BENCH_NODES") or "0")
local nodelist = os.getenv("BENCH_NODELIST")
local prefix = os.getenv("BENCH_PREFIX") or "stream"
local cycle = tonumber(os.getenv("BENCH_CYCLE") or "0")

package.path = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "?.lua;" .. package.path
local common = require("common")
local slurp = common.slurp

setup = common.setup

local template, anns, suffix, counter

function init(args)
   template = slurp(dir .. "/stream-pod.json"):gsub("%s+$", "")
   anns = {}
   for line in io.lines(dir .. "/stream-annotations.txt") do
      anns[#anns + 1] = line
   end
   if nodelist then
      suffix = ',"Nodes":' .. slurp(nodelist):gsub("%s+$", "") .. ',"NodeNames":null}'
   else
      local names = {}
      for i = 0, n_nodes - 1 do
         names[#names + 1] = string.format('"worker-%05d"', i)
      end
      suffix = ',"Nodes":null,"NodeNames":[' .. table.concat(names, ",") .. ']}'
   end
   counter = 0
   wrk.method = "POST"
   wrk.path = "/scheduler/" .. verb
   wrk.headers["Content-Type"] = "application/json"
end

-- Pod k of this thread: job k // 8, PE k % 8.
local function pod(k)
   local pe = k % #anns
   local job = string.format("%s-t%d-%05d", prefix, tid, math.floor(k / #anns))
   local uid = string.format("%08x-%04x-4000-8000-%012x", #prefix * 7919 + tid, tid, k)
   local fields = { NAME = job .. "-pe" .. pe, UID = uid, JOB = job, PE = tostring(pe),
                    RV = tostring(300000 + k), ANNOTATIONS = anns[pe + 1] }
   return (template:gsub("@(%u+)@", fields))
end

function request()
   local k = counter
   counter = counter + 1
   if cycle > 0 then
      k = k % cycle
   end
   return wrk.format(nil, nil, nil, '{"Pod":' .. pod(k) .. suffix)
end

function done(summary, latency, requests)
   common.write_result(summary, latency)
end
