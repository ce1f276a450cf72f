-- Fixed-rate load: every connection waits BENCH_DELAY_MS between requests, so the
-- offered rate is connections * 1000 / BENCH_DELAY_MS (minus response time).
-- Latency is measured from the actual send, so it is not corrected for coordinated
-- omission; at half of the maximum rate the server is rarely behind, which keeps
-- this error small (see bench/README.md).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "20")
delay = function()
  return delay_ms
end
