-- wrk script: every member checks in once, through the same form a phone posts
-- (session cookie, CSRF token, code). Members are split between wrk's threads.
-- Arguments after "--": sessions file, lecture id, codes, number of threads.
--   codes: "<first period>:<venue 1's codes>;<venue 2's codes>;..." — each venue screen's code for consecutive
--   30 s periods from <first period> (Unix time // 30), comma-separated; each member types the code on their
--   home venue's screen at the moment of the request (the sessions file gives the venue, 1-based).
-- A thread stops once each of its members has been answered "✔ Checked in" (the record was created).
-- Connections that are still busy meanwhile send a second tap for members already sent, as a phone
-- whose owner taps twice would; those count as requests, not as check-ins.
-- wrk itself always runs for its whole -d (the harness interrupts it once every thread is done), so the
-- burst's own duration is measured here, with the monotonic clock (LuaJIT FFI), from the first request
-- to the last member's acknowledgement.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local timespec = ffi.new("bench_timespec")

local function clock(kind)  -- 0: CLOCK_REALTIME, 1: CLOCK_MONOTONIC; seconds
  ffi.C.clock_gettime(kind, timespec)
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) / 1e9
end

local counter, threads = 0, {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file, nthreads = args[1], tonumber(args[4])
  lecture = args[2]
  local first, lists = args[3]:match("^(%d+):(.*)$")
  first_period, codes = tonumber(first), {}
  for list in lists:gmatch("[^;]+") do
    local venue = {}
    for code in list:gmatch("%d+") do table.insert(venue, code) end
    table.insert(codes, venue)
  end
  members, index, created, answered, refused, started, finished = {}, 0, 0, 0, 0, 0, 0
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == id then
      local cookie, token, venue = line:match("([^\t]+)\t([^\t]+)\t(%d+)")
      table.insert(members, {cookie = cookie, token = token, venue = tonumber(venue)})
    end
    i = i + 1
  end
end

local function current_code(venue)
  local period = math.floor(clock(0) / 30)
  local list = codes[venue]
  return list[math.max(1, math.min(#list, period - first_period + 1))]
end

function request()
  if index == 0 then started = clock(1) end
  index = index + 1
  -- Past the last member, connections still open tap again for the members from the first on.
  local member = members[(index - 1) % #members + 1]
  -- wrk.format replaces wrk.headers (-H, the User-Agent session protection checks) when given headers.
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Cookie"] = "session=" .. member.cookie
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  return wrk.format("POST", "/lectures/" .. lecture .. "/checkin", headers,
    "csrf_token=" .. member.token .. "&code=" .. current_code(member.venue))
end

function response(status, headers, body)
  answered = answered + 1
  if status == 200 and body:find("<h1>✔", 1, true) then
    created = created + 1
    if created == #members then
      finished = clock(1)
      -- wrk waits out its -d even when every thread has stopped; the harness interrupts it on this line.
      io.write("THREAD DONE\n")
      io.stdout:flush()
      wrk.thread:stop()
    end
  elseif status ~= 200 then
    -- Anything but "checked in" or "already checked in" (200) is an error, redirects included (wrk counts
    -- only 4xx/5xx); the first one is shown, to tell what went wrong.
    refused = refused + 1
    if not reported then
      reported = true
      io.write("UNEXPECTED " .. status .. " " .. (body:gsub("%s+", " ")):sub(-700) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local first, last, created_all, answered_all, refused_all = math.huge, 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    local s, f = thread:get("started"), thread:get("finished")
    if s > 0 and s < first then first = s end
    if f == 0 then last = math.huge elseif f > last then last = f end
    created_all = created_all + thread:get("created")
    answered_all = answered_all + thread:get("answered")
    refused_all = refused_all + thread:get("refused")
  end
  -- A thread that never acknowledged all its members ran until wrk's -d ended: use wrk's duration.
  local seconds = (last == math.huge or first == math.huge) and summary.duration / 1e6 or last - first
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "burst_seconds": %.3f, "created": %d, "answered": %d, "not_200": %d, ' ..
    '"errors_status": %d, "errors_connect": %d, "errors_read": %d, "errors_write": %d, "errors_timeout": %d, ' ..
    '"p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, summary.duration, seconds, created_all, answered_all, refused_all, summary.errors.status,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
