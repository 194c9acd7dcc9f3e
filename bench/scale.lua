-- wrk script for make bench-scale: a fleet of screens, each polling its manifest (If-None-Match), sending
-- heartbeats and, now and then, a batch of proof-of-play records with fresh record ids.
-- targets file lines: screen id <TAB> token <TAB> etag ; env DELAY_MS paces each connection.
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
local targets = {}
for line in io.lines(os.getenv("TARGETS")) do
  local sid, token, etag = line:match("^([^\t]+)\t([^\t]*)\t([^\t]*)$")
  targets[#targets + 1] = {sid, token, etag}
end

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
end

local n = 0
function init(args)
  n = (thread_id or 1) * 7919
end

-- Of every 16 requests: 10 manifest polls, 5 heartbeats, 1 proof-of-play batch of 20 records; that is what
-- screens polling every 30 s, beating every 60 s and reporting every 5 minutes send.
local function plays_body(sid)
  local parts = {}
  for k = 1, 20 do
    parts[k] = string.format(
      '{"id":"b%d-%d-%d","item":"poster:1","started_at":"2026-11-27T10:00:%02d+07:00","duration_s":15}',
      thread_id or 1, n, k, k)
  end
  return '{"plays":[' .. table.concat(parts, ",") .. ']}'
end

function request()
  n = n + 1
  local t = targets[(n % #targets) + 1]
  local sid, auth = t[1], "Bearer " .. t[2]
  local kind = n % 16
  if kind < 10 then
    return wrk.format("GET", "/api/v1/screens/" .. sid .. "/manifest",
      {["Authorization"] = auth, ["If-None-Match"] = t[3], ["Accept-Encoding"] = "gzip"})
  elseif kind < 15 then
    return wrk.format("POST", "/api/v1/screens/" .. sid .. "/heartbeat",
      {["Authorization"] = auth, ["Content-Type"] = "application/json"},
      '{"version":"bench","item":"poster:1"}')
  end
  return wrk.format("POST", "/api/v1/screens/" .. sid .. "/plays",
    {["Authorization"] = auth, ["Content-Type"] = "application/json"}, plays_body(sid))
end

if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("UNEXPECTED %d\n", e.status + e.connect + e.read + e.write + e.timeout))
  io.write(string.format("RESULT %d %.3f %.3f %.3f %d\n", summary.requests,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.duration / 1e6, summary.bytes))
  io.write(string.format("MAX %.3f\n", latency.max / 1000))
end
