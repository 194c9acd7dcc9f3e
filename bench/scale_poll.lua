-- wrk script for make bench-scale: screens polling their manifest with If-None-Match, each paced by DELAY_MS.
-- Run with as many threads as connections (-tN -cN): each thread then has one connection, its answers come in
-- the order of its requests, and response() knows which screen an answer is for, so a screen keeps the new
-- ETag a 200 brings (as a player does) instead of fetching the whole manifest on every later poll.
-- TARGETS lines: screen id <TAB> token <TAB> etag; thread k of N takes the lines k, k + N, k + 2N ...
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  thread:set("of", tonumber(os.getenv("CONNECTIONS") or "1"))
  table.insert(threads, thread)
end

local targets, i, current = {}, 0, nil
n200, n304, nother = 0, 0, 0

function init(args)
  local line_no = 0
  for line in io.lines(os.getenv("TARGETS")) do
    line_no = line_no + 1
    if (line_no - 1) % of == id - 1 then
      local sid, token, etag = line:match("^([^\t]+)\t([^\t]*)\t([^\t]*)$")
      targets[#targets + 1] = {"/api/v1/screens/" .. sid .. "/manifest", "Bearer " .. token, etag}
    end
  end
end

function request()
  i = i % #targets + 1
  current = targets[i]
  return wrk.format("GET", current[1], {["Authorization"] = current[2], ["If-None-Match"] = current[3],
                                        ["Accept-Encoding"] = "gzip"})
end

function response(status, headers, body)
  if status == 304 then
    n304 = n304 + 1
  elseif status == 200 then
    n200 = n200 + 1
    local tag = headers["ETag"] or headers["etag"] or headers["Etag"]
    if tag and current then current[3] = tag end
  else
    nother = nother + 1
  end
end

function delay()
  return delay_ms
end

function done(summary, latency, requests)
  local a, b = 0, 0
  for _, t in ipairs(threads) do
    a = a + (t:get("n200") or 0)
    b = b + (t:get("n304") or 0)
  end
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration=%.3f p50=%.3f p95=%.3f p99=%.3f max=%.3f status=%d " ..
    "connect=%d read=%d write=%d timeout=%d n200=%d n304=%d\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.status, e.connect, e.read, e.write, e.timeout, a, b))
end
