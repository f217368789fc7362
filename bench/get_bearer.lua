-- wrk script: GET with a bearer token (passed as the first script argument) and print the same
-- BENCH_RESULT line as post_token.lua.
--   wrk -t1 -c16 -d10s --latency -s bench/get_bearer.lua http://127.0.0.1:7402/zia/api/v1/urlCategories/urlQuota -- TOKEN

wrk.method = "GET"

function init(args)
  wrk.headers["Authorization"] = "Bearer " .. args[1]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d bytes=%d non2xx=%d connect=%d read=%d write=%d timeout=%d"
      .. " p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\n",
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
