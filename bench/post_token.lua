-- wrk script: POST an OAuth 2.0 client-credentials token request on every connection, and print
-- machine-readable figures when the run is done (bench_token.py parses the BENCH_RESULT line).
--
--   wrk -t1 -c16 -d10s --latency -s bench/post_token.lua http://127.0.0.1:7401/oauth2/okta/v1/token
--   wrk ... -s bench/post_token.lua URL -- 'grant_type=client_credentials&client_id=...'  (another body)

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials&client_id=mimecast-threat-share"
  .. "&client_secret=okta-mimecast-secret-3173833"
  .. "&scope=zscloud.net%3A%3A3173833%3A%3AMimecast_Threat_Share"

function init(args)
  if args[1] ~= nil and args[1] ~= "" then
    wrk.body = args[1]
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d bytes=%d non2xx=%d connect=%d read=%d write=%d timeout=%d"
      .. " p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\n",
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
