-- wrk script for make bench-scale: screens sending their heartbeat, each connection paced by DELAY_MS.
-- TARGETS lines: screen id <TAB> token <TAB> etag; screens taken in turn, each thread from its own offset.
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
local targets = {}
for line in io.lines(os.getenv("TARGETS")) do
  local sid, token, etag = line:match("^([^\t]+)\t([^\t]*)\t([^\t]*)$")
  targets[#targets + 1] = {"/api/v1/screens/" .. sid .. "/heartbeat", "Bearer " .. token,
    string.format('{"version":"bench-scale","item":"poster:1","manifest_etag":%q,"pending_plays":0}', etag)}
end

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("offset", math.floor((counter - 1) * #targets / 2))
end

local i = 0
function init(args)
  i = offset or 0
end

function request()
  i = i % #targets + 1
  local t = targets[i]
  return wrk.format("POST", t[1], {["Authorization"] = t[2], ["Content-Type"] = "application/json"}, t[3])
end

function delay()
  return delay_ms
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration=%.3f p50=%.3f p95=%.3f p99=%.3f max=%.3f status=%d " ..
    "connect=%d read=%d write=%d timeout=%d\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.status, e.connect, e.read, e.write, e.timeout))
end
