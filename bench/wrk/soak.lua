-- wrk script of the valid traffic of bench/soak.sh. Run it with one
-- connection per thread (-c equal to -t): the next request depends on the
-- last answer, and answers are matched to the request just sent.
--
-- SOAK_MODE=lifecycle (default): each thread walks jobs of 8 PE pods
-- (bench/stream-pod.json with the constraints of
-- bench/stream-annotations.txt) through the life a cluster gives them:
--   mutate, then validate, of the CREATE review of every PE pod;
--   then for every PE: filter with all SOAK_NODES node names, prioritize
--   with the same names, bind to the node filter chose;
--   then validate of the DELETE review of every PE pod (the job ends).
-- So the server learns, places, binds and forgets pods all the time while
-- the number of live PEs stays bounded. A request that got no answer (a
-- connection error) is sent again: a step only advances on an answer.
--
-- SOAK_MODE=replay: each thread sends the captured AdmissionReviews of
-- SOAK_FIXTURES/admission/*.json (kube-apiserver's own payloads: pod CREATE
-- and DELETE, HostPool CREATE and UPDATE) in turn, to /webhook/validate or
-- /webhook/mutate as the file name says, waiting SOAK_DELAY_MS between
-- requests.
--
-- Every answer is counted by kind and status class, and a 200 that does not
-- say what it should is counted "bad": a filter without exactly one node, a
-- prioritize that is not a list of scores, a bind with an Error, a review
-- that does not allow our pod (lifecycle) or that carries no "allowed"
-- (replay). done() prints one "KIND kind=K sent=N s2xx=.. s4xx=.. s5xx=..
-- other=.. bad=.." line per kind, the first bad answer of each thread as a
-- "BAD" line, and a RESULT line as bench/wrk/extender.lua does.
--
--   SOAK_MODE      lifecycle | replay
--   SOAK_DIR       the bench/ source directory
--   SOAK_NODES     node names worker-00000 .. worker-(N-1) (lifecycle)
--   SOAK_PREFIX    job name prefix (lifecycle; one per run)
--   SOAK_JOBS      lifecycle: 0 (default): every job has a new name; N:
--                  each thread reuses N job names over and over (the same
--                  jobs resubmitted; every pod still has a new uid)
--   SOAK_FIXTURES  the captured payloads folder (replay)
--   SOAK_DELAY_MS  pause before each request (default 0)

local mode = os.getenv("SOAK_MODE") or "lifecycle"
local dir = os.getenv("SOAK_DIR") or "bench"
local n_nodes = tonumber(os.getenv("SOAK_NODES") or "1000")
local prefix = os.getenv("SOAK_PREFIX") or "soak"
local fixtures = os.getenv("SOAK_FIXTURES") or ""
local delay_ms = tonumber(os.getenv("SOAK_DELAY_MS") or "0")
local n_jobs = tonumber(os.getenv("SOAK_JOBS") or "0")
local NS = "streams-a"

package.path = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "?.lua;" .. package.path
local common = require("common")
local slurp = common.slurp

local threads = common.threads
setup = common.setup

-- ---------------------------------------------------------------------------
-- Counting
-- ---------------------------------------------------------------------------

counts = {}        -- "kind field" -> n (flat: wrk's thread:get cannot copy nested tables)
first_bad = ""
local current      -- the step whose answer is awaited

local function count(kind, field)
   local key = kind .. " " .. field
   counts[key] = (counts[key] or 0) + 1
end

local function class(status)
   if status >= 200 and status < 300 then return "s2xx" end
   if status >= 400 and status < 500 then return "s4xx" end
   if status >= 500 and status < 600 then return "s5xx" end
   return "other"
end

local function bad(kind, status, body)
   count(kind, "bad")
   if first_bad == "" then
      first_bad = string.format("%s status=%d body=%s", kind, status,
                                (body or ""):sub(1, 300):gsub("%s", " "))
   end
end

-- ---------------------------------------------------------------------------
-- Lifecycle
-- ---------------------------------------------------------------------------

local template, anns, names_suffix
local job_no, steps, at, chosen

local function job_name(j)
   if n_jobs > 0 then
      j = j % n_jobs
   end
   return string.format("%s-t%d-%06d", prefix, tid, j)
end

local function uid_of(j, pe)
   return string.format("%08x-%04x-4000-8000-%012x", #prefix * 7919 + tid, tid, j * 8 + pe)
end

local function pod(j, pe, node)
   local job = job_name(j)
   local fields = { NAME = job .. "-pe" .. pe, UID = uid_of(j, pe), JOB = job,
                    PE = tostring(pe), RV = tostring(100000 + j), ANNOTATIONS = anns[pe + 1] }
   local p = template:gsub("@(%u+)@", fields)
   if node then
      p = p:gsub('"spec":{', '"spec":{"nodeName":"' .. node .. '",', 1)
      p = p:gsub('"phase":"Pending"', '"phase":"Running"', 1)
   end
   return p
end

local function review(op, j, pe, node)
   local p = pod(j, pe, node)
   local object, old = p, "null"
   if op == "DELETE" then
      object, old = "null", p
   end
   return string.format(
      '{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{' ..
      '"uid":"%s-%s","kind":{"group":"","version":"v1","kind":"Pod"},' ..
      '"resource":{"group":"","version":"v1","resource":"pods"},' ..
      '"requestKind":{"group":"","version":"v1","kind":"Pod"},' ..
      '"requestResource":{"group":"","version":"v1","resource":"pods"},' ..
      '"name":"%s-pe%d","namespace":"%s","operation":"%s",' ..
      '"userInfo":{"username":"system:serviceaccount:streams:streams-operator"},' ..
      '"object":%s,"oldObject":%s,"dryRun":false,"options":null}}',
      op:lower(), uid_of(j, pe), job_name(j), pe, NS, op, object, old)
end

local function new_job()
   job_no = job_no + 1
   steps = {}
   for pe = 0, #anns - 1 do
      steps[#steps + 1] = { kind = "mutate", pe = pe }
      steps[#steps + 1] = { kind = "validate", pe = pe }
   end
   for pe = 0, #anns - 1 do
      steps[#steps + 1] = { kind = "filter", pe = pe }
      steps[#steps + 1] = { kind = "prioritize", pe = pe }
      steps[#steps + 1] = { kind = "bind", pe = pe }
   end
   for pe = 0, #anns - 1 do
      steps[#steps + 1] = { kind = "delete", pe = pe }
   end
   at = 1
   chosen = {}
end

local function lifecycle_request(s)
   local j, pe = job_no, s.pe
   if s.kind == "mutate" then
      return "/webhook/mutate?timeout=10s", review("CREATE", j, pe)
   elseif s.kind == "validate" then
      return "/webhook/validate?timeout=10s", review("CREATE", j, pe)
   elseif s.kind == "filter" or s.kind == "prioritize" then
      return "/scheduler/" .. s.kind, '{"Pod":' .. pod(j, pe) .. names_suffix
   elseif s.kind == "bind" then
      return "/scheduler/bind", string.format(
         '{"PodName":"%s-pe%d","PodNamespace":"%s","PodUID":"%s","Node":"%s"}',
         job_name(j), pe, NS, uid_of(j, pe), chosen[pe])
   else
      return "/webhook/validate?timeout=10s", review("DELETE", j, pe, chosen[pe])
   end
end

-- Whether a 200 answer of a lifecycle step says what it should.
local function lifecycle_ok(s, body)
   if s.kind == "filter" then
      local node = body:match('^{"NodeNames":%["([^"]+)"%]')
      if not node or body:find('"Error":"[^"]') then
         return false
      end
      chosen[s.pe] = node
      return true
   elseif s.kind == "prioritize" then
      return body:sub(1, 9) == '[{"Host":'
   elseif s.kind == "bind" then
      return body == '{"Error":""}'
   else
      return body:find('"allowed":true', 1, true) ~= nil
   end
end

local function lifecycle_advance()
   at = at + 1
   -- a PE that filter could not place is not bound
   while steps[at] and steps[at].kind == "bind" and not chosen[steps[at].pe] do
      at = at + 1
   end
   if not steps[at] then
      new_job()
   end
end

-- ---------------------------------------------------------------------------
-- Replay
-- ---------------------------------------------------------------------------

local replays, replay_at

local function load_replays()
   replays = {}
   local ls = io.popen('ls "' .. fixtures .. '"/admission/*.json 2>/dev/null')
   for path in ls:lines() do
      local base = path:match("([^/]+)%.json$")
      local verb = base:match("^(%a+)-")
      if verb == "validate" or verb == "mutate" then
         replays[#replays + 1] = { kind = "fixture-" .. verb,
                                   path = "/webhook/" .. verb .. "?timeout=5s",
                                   body = slurp(path) }
      end
   end
   ls:close()
   assert(#replays > 0, "no AdmissionReview fixtures in " .. fixtures .. "/admission")
   replay_at = tid % #replays
end

-- ---------------------------------------------------------------------------
-- wrk hooks
-- ---------------------------------------------------------------------------

function init(args)
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   if mode == "replay" then
      load_replays()
      return
   end
   template = slurp(dir .. "/stream-pod.json"):gsub("%s+$", "")
   anns = {}
   for line in io.lines(dir .. "/stream-annotations.txt") do
      anns[#anns + 1] = line
   end
   local names = {}
   for i = 0, n_nodes - 1 do
      names[#names + 1] = string.format('"worker-%05d"', i)
   end
   names_suffix = ',"Nodes":null,"NodeNames":[' .. table.concat(names, ",") .. ']}'
   job_no = 0
   new_job()
end

function delay()
   return delay_ms
end

function request()
   local path, body
   if mode == "replay" then
      current = replays[replay_at + 1]
      path, body = current.path, current.body
   else
      current = steps[at]
      path, body = lifecycle_request(current)
   end
   count(current.kind, "sent")
   return wrk.format(nil, path, nil, body)
end

function response(status, headers, body)
   local kind = current.kind
   count(kind, class(status))
   if status ~= 200 then
      bad(kind, status, body)
   elseif mode == "replay" then
      if not body:find('"allowed":', 1, true) then
         bad(kind, status, body)
      end
   elseif not lifecycle_ok(current, body) then
      bad(kind, status, body)
   end
   if mode == "replay" then
      replay_at = (replay_at + 1) % #replays
   else
      lifecycle_advance()
   end
end

local FIELDS = { "sent", "s2xx", "s4xx", "s5xx", "other", "bad" }

function done(summary, latency, requests)
   local total, order = {}, {}
   for _, t in ipairs(threads) do
      for key, n in pairs(t:get("counts") or {}) do
         local kind, field = key:match("^(%S+) (%S+)$")
         if not total[kind] then
            total[kind] = { sent = 0, s2xx = 0, s4xx = 0, s5xx = 0, other = 0, bad = 0 }
            order[#order + 1] = kind
         end
         total[kind][field] = total[kind][field] + n
      end
      local b = t:get("first_bad")
      if b and b ~= "" then
         io.write("BAD ", b, "\n")
      end
   end
   table.sort(order)
   for _, kind in ipairs(order) do
      local line = "KIND kind=" .. kind
      for _, f in ipairs(FIELDS) do
         line = line .. " " .. f .. "=" .. total[kind][f]
      end
      io.write(line, "\n")
   end
   common.write_result(summary, latency)
end
