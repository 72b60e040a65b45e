-- wrk script of the malformed traffic of bench/soak.sh: every request is
-- wrong in some way, and the server must refuse each with a well-formed
-- answer: a 4xx, or a 200 that refuses (an AdmissionReview with "allowed":
-- false, an extender answer with its Error or with no node), never a 5xx,
-- never an acceptance, and on a connection that stays usable (a request
-- that gets no answer is a failure too). Run it with one connection per
-- thread (-c equal to -t): an answer is matched to the request just sent.
--
-- The cases, in turn: truncated JSON on every route, an empty body, a body
-- that is not JSON, a nesting bomb, wrong types, invalid UTF-8, a number out
-- of range, a bind of an unknown pod, reviews of pods and HostPools that
-- break the validation rules (DESIGN section 3), an unknown operation, an
-- object that is not one, a filter of a pod with broken annotations, a
-- NodeList of the wrong types, neither Nodes nor NodeNames, unknown nodes,
-- wrong methods, unknown and dot-dot paths, a wrong Content-Type. (What makes
-- the server close the connection, bodies and headers over the limits, is
-- sent by bench/soak.sh itself, one connection each.)
--
-- done() prints one "CASE name=.. sent=.. refused4xx=.. refused200=..
-- accepted=.. s5xx=.. other=.. noanswer=.." line per case (accepted, s5xx,
-- other and noanswer are failures), the first wrong answer of each thread
-- as a "BAD" line, and a RESULT line.
--
--   SOAK_DIR        the bench/ source directory
--   SOAK_FIXTURES   the captured payloads folder
--   SOAK_DELAY_MS   pause before each request (default 2)

local dir = os.getenv("SOAK_DIR") or "bench"
local fixtures = os.getenv("SOAK_FIXTURES") or ""
local delay_ms = tonumber(os.getenv("SOAK_DELAY_MS") or "2")
local JSON = "application/json"

package.path = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "?.lua;" .. package.path
local common = require("common")
local slurp = common.slurp

local threads = common.threads
setup = common.setup

-- ---------------------------------------------------------------------------
-- The cases
-- ---------------------------------------------------------------------------

-- What makes a 200 answer a refusal.
local function denied(body) return body:find('"allowed":false', 1, true) ~= nil end
local function ext_error(body) return body:find('"Error":"[^"]') ~= nil end
local function no_nodes(body) return body:find('"NodeNames":[]', 1, true) ~= nil end

local function half(s) return s:sub(1, math.floor(#s / 2)) end

local cases

local function pod(annotations)
   local template = slurp(dir .. "/stream-pod.json"):gsub("%s+$", "")
   local fields = { NAME = "malformed-pe0", UID = "6d616c66-6f72-4d65-8400-000000000001",
                    JOB = "malformed", PE = "0", RV = "1", ANNOTATIONS = annotations }
   return (template:gsub("@(%u+)@", fields))
end

local function review(op, object, kind, resource)
   kind = kind or '{"group":"","version":"v1","kind":"Pod"}'
   resource = resource or '{"group":"","version":"v1","resource":"pods"}'
   return '{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{' ..
      '"uid":"6d616c66-0000-4000-8000-000000000002","kind":' .. kind ..
      ',"resource":' .. resource .. ',"name":"malformed-pe0","namespace":"streams-a",' ..
      '"operation":"' .. op .. '","userInfo":{"username":"soak"},"object":' .. object ..
      ',"oldObject":null}}'
end

local function build_cases()
   local fx = fixtures .. "/"
   local filter = slurp(fx .. "extender-nodenames/filter-job1-pe3.json")
   local prio = slurp(fx .. "extender-nodenames/prioritize-job1-pe3.json")
   local validate = slurp(fx .. "admission/validate-create-pod-job1-pe0.json")
   local mutate = slurp(fx .. "admission/mutate-create-pod-job1-pe0.json")
   local bad_index = pod(',"streams.io/host-pool-index":"-1"')
   local conflict = pod(',"streams.io/host-isolation":"true","streams.io/host-colocation":"c1"')
   local hostpool = '{"apiVersion":"placement.streams.io/v1alpha1","kind":"HostPool",' ..
      '"metadata":{"name":"malformed","namespace":"streams-a"},' ..
      '"spec":{"size":-3,"exclusive":true}}'
   local hp_kind = '{"group":"placement.streams.io","version":"v1alpha1","kind":"HostPool"}'
   local hp_res = '{"group":"placement.streams.io","version":"v1alpha1","resource":"hostpools"}'
   local V, M = "/webhook/validate?timeout=10s", "/webhook/mutate?timeout=10s"
   local F, P, B = "/scheduler/filter", "/scheduler/prioritize", "/scheduler/bind"

   cases = {
      { name = "truncated-filter", path = F, body = half(filter) },
      { name = "truncated-prioritize", path = P, body = half(prio) },
      { name = "truncated-validate", path = V, body = half(validate) },
      { name = "truncated-mutate", path = M, body = half(mutate) },
      { name = "empty-bind", path = B, body = "" },
      { name = "not-json", path = V, body = "\0\255\254 this is not JSON" },
      { name = "nesting-bomb", path = F, body = string.rep("[", 100000) },
      { name = "types-filter", path = F, body = '{"Pod":5,"NodeNames":"worker-00001"}' },
      { name = "types-prioritize", path = P,
        body = '{"Pod":{"metadata":{"name":7}},"NodeNames":[1,2]}' },
      { name = "types-bind", path = B, body = '{"PodName":5,"Node":["x"]}' },
      { name = "types-review", path = M,
        body = '{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":5}}' },
      { name = "review-not-object", path = V,
        body = '{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":"x"}' },
      { name = "bad-utf8", path = F, ok200 = no_nodes,
        body = '{"Pod":{"metadata":{"name":"x\255","namespace":"\192\128",' ..
               '"uid":"6d616c66-0000-4000-8000-0000000000ff",' ..
               '"labels":{"streams.io/job":"j\255\254","streams.io/pe":"0"}}},' ..
               '"NodeNames":["worker-00001"]}' },
      { name = "number-out-of-range", path = B,
        body = '{"PodName":"a","PodNamespace":"b","PodUID":"c","Node":1e999}' },
      { name = "bind-unknown-pod", path = B, ok200 = ext_error,
        body = '{"PodName":"nobody","PodNamespace":"streams-a",' ..
               '"PodUID":"6d616c66-0000-4000-8000-00000000dead","Node":"worker-00001"}' },
      { name = "index-without-pool", path = V, ok200 = denied,
        body = review("CREATE", bad_index) },
      { name = "index-without-pool-mutate", path = M, ok200 = denied,
        body = review("CREATE", bad_index) },
      { name = "isolation-and-colocation", path = V, ok200 = denied,
        body = review("CREATE", conflict) },
      { name = "hostpool-invalid", path = V, ok200 = denied,
        body = review("CREATE", hostpool, hp_kind, hp_res) },
      { name = "unknown-operation", path = V, ok200 = denied,
        body = review("FROB", pod("")) },
      { name = "object-not-object", path = V, ok200 = denied,
        body = review("CREATE", '"a string"') },
      { name = "filter-broken-annotations", path = F, ok200 = no_nodes,
        body = '{"Pod":' .. bad_index .. ',"NodeNames":["worker-00001","worker-00002"]}' },
      { name = "nodelist-wrong-types", path = F,
        body = '{"Pod":' .. pod("") .. ',"Nodes":{"items":[{"metadata":5},7]}}' },
      { name = "neither-nodes-nor-names", path = F,
        body = '{"Pod":' .. pod("") .. ',"Nodes":null,"NodeNames":null}' },
      { name = "unknown-nodes", path = F, ok200 = no_nodes,
        body = '{"Pod":' .. pod("") .. ',"NodeNames":["nope-1","nope-2"]}' },
      { name = "wrong-method", method = "GET", path = F },
      { name = "wrong-method-delete", method = "DELETE", path = V },
      { name = "unknown-path", path = "/scheduler/preempt-nope", body = "{}" },
      { name = "dot-dot-path", method = "GET", path = "/webhook/../metrics" },
      { name = "wrong-content-type", path = V, body = validate,
        headers = { ["Content-Type"] = "text/plain" } },
   }
end

-- ---------------------------------------------------------------------------
-- Counting
-- ---------------------------------------------------------------------------

counts = {}        -- "case field" -> n (flat: thread:get cannot copy nested tables)
first_bad = ""
local at, current
local awaiting = false   -- the last request has had no answer yet
local answers = 0        -- wrk asks for the first request twice: before any
                         -- answer, an unanswered request is not counted

local function count(name, field)
   local key = name .. " " .. field
   counts[key] = (counts[key] or 0) + 1
end

local function bad(c, status, body)
   if first_bad == "" then
      first_bad = string.format("%s status=%d body=%s", c.name, status,
                                (body or ""):sub(1, 300):gsub("%s", " "))
   end
end

-- ---------------------------------------------------------------------------
-- wrk hooks
-- ---------------------------------------------------------------------------

function init(args)
   build_cases()
   for _, c in ipairs(cases) do
      local h = { ["Content-Type"] = JSON }
      for k, v in pairs(c.headers or {}) do
         h[k] = v
      end
      c.req = wrk.format(c.method or "POST", c.path, h, c.body)
   end
   at = 0
end

function delay()
   return delay_ms
end

function request()
   if awaiting and answers > 0 then
      count(current.name, "noanswer") -- its connection failed
   end
   awaiting = true
   at = at % #cases + 1
   current = cases[at]
   count(current.name, "sent")
   return current.req
end

function response(status, headers, body)
   local c = current
   awaiting = false
   answers = answers + 1
   if status >= 400 and status < 500 then
      count(c.name, "refused4xx")
   elseif status == 200 and c.ok200 and c.ok200(body) then
      count(c.name, "refused200")
   elseif status >= 200 and status < 300 then
      count(c.name, "accepted")
      bad(c, status, body)
   elseif status >= 500 and status < 600 then
      count(c.name, "s5xx")
      bad(c, status, body)
   else
      count(c.name, "other")
      bad(c, status, body)
   end
end

local FIELDS = { "sent", "refused4xx", "refused200", "accepted", "s5xx", "other", "noanswer" }

function done(summary, latency, requests)
   local total = {}
   for _, t in ipairs(threads) do
      for key, n in pairs(t:get("counts") or {}) do
         total[key] = (total[key] or 0) + n
      end
      local b = t:get("first_bad")
      if b and b ~= "" then
         io.write("BAD ", b, "\n")
      end
   end
   build_cases()
   for _, c in ipairs(cases) do
      local line = "CASE name=" .. c.name
      for _, f in ipairs(FIELDS) do
         line = line .. " " .. f .. "=" .. (total[c.name .. " " .. f] or 0)
      end
      io.write(line, "\n")
   end
   common.write_result(summary, latency)
end
