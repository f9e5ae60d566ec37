-- wrk script: members sign in through the real form, as fast as the server hashes their passwords.
-- Each line of the file (first argument after "--") is one member's sign-in page, fetched beforehand:
-- session cookie TAB CSRF token TAB user name. Every member signs in once (argon2id checks the password,
-- a 302 answers); connections that find every member of their thread sent stop.
-- Arguments: file, password, number of threads.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local timespec = ffi.new("bench_timespec")

local function monotonic()  -- seconds; wrk runs for its whole -d, so the sign-ins time themselves
  ffi.C.clock_gettime(1, timespec)
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) / 1e9
end

local counter, threads = 0, {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file, nthreads = args[1], tonumber(args[3])
  password = args[2]
  members, index, signed_in, refused, started, finished = {}, 0, 0, 0, 0, 0
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == id then
      local cookie, token, username = line:match("([^\t]+)\t([^\t]+)\t([^\t]+)")
      table.insert(members, {cookie = cookie, token = token, username = username})
    end
    i = i + 1
  end
end

function request()
  if index == 0 then started = monotonic() end
  index = index + 1
  local member = members[(index - 1) % #members + 1]
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Cookie"] = "session=" .. member.cookie
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  return wrk.format("POST", "/login", headers,
    "csrf_token=" .. member.token .. "&username=" .. member.username .. "&password=" .. password)
end

function response(status, headers, body)
  if status == 302 and not (headers["Location"] or ""):find("/login", 1, true) then
    signed_in = signed_in + 1
    if signed_in == #members then
      finished = monotonic()
      io.write("THREAD DONE\n")
      io.stdout:flush()
      wrk.thread:stop()
    end
  else
    refused = refused + 1
    if not reported then
      reported = true
      io.write("UNEXPECTED " .. status .. " " .. (body:gsub("%s+", " ")):sub(1, 300) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local signed_in_all, refused_all, first, last = 0, 0, math.huge, 0
  for _, thread in ipairs(threads) do
    local s, f = thread:get("started"), thread:get("finished")
    if s > 0 and s < first then first = s end
    if f == 0 then last = math.huge elseif f > last then last = f end
    signed_in_all = signed_in_all + thread:get("signed_in")
    refused_all = refused_all + thread:get("refused")
  end
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "burst_seconds": %.3f, "signed_in": %d, "not_200": %d, ' ..
    '"errors_status": %d, "errors_connect": %d, "errors_read": %d, "errors_write": %d, "errors_timeout": %d, ' ..
    '"p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, summary.duration,
    (last == math.huge or first == math.huge) and summary.duration / 1e6 or last - first, signed_in_all, refused_all, summary.errors.status,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
