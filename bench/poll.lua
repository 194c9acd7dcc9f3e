-- wrk script for make bench-poll: every request is one screen's poll, screens taken in turn.
-- targets file lines: path <TAB> token <TAB> etag ; env MODE = bare | 304 | 200 ; DELAY_MS paces each connection.
local mode = os.getenv("MODE") or "304"
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
local targets = {}
for line in io.lines(os.getenv("TARGETS")) do
  local path, token, etag = line:match("^([^\t]+)\t([^\t]*)\t([^\t]*)$")
  targets[#targets + 1] = {path, token, etag}
end

local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("offset", counter * 7919)
end

local i = 0

function init(args)
  i = offset or 0
end

function request()
  i = i + 1
  local t = targets[(i % #targets) + 1]
  if mode == "bare" then
    return wrk.format("GET", t[1])
  end
  local headers = {["Authorization"] = "Bearer " .. t[2], ["Accept-Encoding"] = "gzip"}
  if mode == "304" then
    headers["If-None-Match"] = t[3]
  end
  return wrk.format("GET", t[1], headers)
end

if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

-- No response() hook: defining one makes wrk hand every body to Lua, which would slow the load generator
-- more for big bodies than small ones. Statuses outside 2xx/3xx and socket errors come from the summary;
-- the bytes read tell a 304 (headers only) from a full manifest.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("UNEXPECTED %d\n", e.status + e.connect + e.read + e.write + e.timeout))
  io.write(string.format("RESULT %d %.3f %.3f %.3f %d\n", summary.requests,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.duration / 1e6, summary.bytes))
end
