-- wrk script for make bench-scale: screens sending a batch of proof-of-play records, paced by DELAY_MS.
-- TARGETS lines: screen id <TAB> token <TAB> batch JSON whose record ids start with "@@", replaced here by a
-- prefix unique to the request, so that no two requests share a record id. The records are segments the
-- screen's manifest really had: the server judges them against its schedule; the 202 answers say how many it
-- accepted and refused, which are added up here.
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
local targets = {}
for line in io.lines(os.getenv("TARGETS")) do
  local sid, token, body = line:match("^([^\t]+)\t([^\t]*)\t([^\t]*)$")
  targets[#targets + 1] = {sid, "Bearer " .. token, body}
end

local threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  thread:set("offset", math.floor((counter - 1) * #targets / 2))
  table.insert(threads, thread)
end

local i, n = 0, 0
local reasons = {"not_scheduled", "too_long", "overlap", "future", "too_old"}
counts = {accepted = 0, refused = 0, duplicates = 0}
for _, r in ipairs(reasons) do counts[r] = 0 end
function init(args)
  i = offset or 0
end

function request()
  i = i % #targets + 1
  n = n + 1
  local t = targets[i]
  local prefix = string.format("%s-%d-%d-%d", t[1], tid or 1, n, os.time() % 100000)
  local body = t[3]:gsub("@@", prefix)
  return wrk.format("POST", "/api/v1/screens/" .. t[1] .. "/plays",
    {["Authorization"] = t[2], ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status == 202 then
    -- "reason": n in refused_by_reason; refused_ids has lists under the same keys, which do not match.
    for key, _ in pairs(counts) do
      counts[key] = counts[key] + tonumber(body:match('"' .. key .. '":%s*(%d+)') or "0")
    end
  end
end

function delay()
  return delay_ms
end

function done(summary, latency, requests)
  local total = {accepted = 0, refused = 0, duplicates = 0}
  for _, r in ipairs(reasons) do total[r] = 0 end
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for key, _ in pairs(total) do
      total[key] = total[key] + ((c and c[key]) or 0)
    end
  end
  local e = summary.errors
  local extra = {}
  for key, v in pairs(total) do extra[#extra + 1] = key .. "=" .. v end
  io.write(string.format("RESULT requests=%d duration=%.3f p50=%.3f p95=%.3f p99=%.3f max=%.3f status=%d " ..
    "connect=%d read=%d write=%d timeout=%d %s\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, e.status, e.connect, e.read, e.write, e.timeout,
    table.concat(extra, " ")))
end
