-- wrk script: every member checks in once, through the same form a phone posts
-- (session cookie, CSRF token, code). Members are split between wrk's threads.
-- Arguments after "--": sessions file, lecture id, check-in code, number of threads.
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  local file, nthreads = args[1], tonumber(args[4])
  lecture, code = args[2], args[3]
  members, index, done_count = {}, 0, 0
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == id then table.insert(members, line) end
    i = i + 1
  end
end

function request()
  index = index + 1
  -- Once every member has been sent, connections still open repeat the last member (a double tap).
  local line = members[math.min(index, #members)]
  local cookie, token = line:match("([^\t]+)\t([^\t]+)")
  return wrk.format("POST", "/lectures/" .. lecture .. "/checkin",
    {["Cookie"] = "session=" .. cookie, ["Content-Type"] = "application/x-www-form-urlencoded"},
    "csrf_token=" .. token .. "&code=" .. code)
end

function response(status, headers, body)
  done_count = done_count + 1
  if done_count >= #members then wrk.thread:stop() end
end

function done(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "errors_status": %d, "errors_connect": %d, ' ..
    '"errors_timeout": %d, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
