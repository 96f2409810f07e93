-- The API intake: POST /api/v1/demands with an API key and a fresh Idempotency-Key.
-- wrk -s api.lua URL -- KEY JSON_BODY RUN_ID
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local key, body, run
local n = 0

function init(args)
  key, body, run = args[1], args[2], args[3]
end

function request()
  n = n + 1
  return wrk.format("POST", "/api/v1/demands", {
    ["X-Api-Key"] = key,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("bench%s-%02d-%010d", run, tid or 0, n),
  }, body)
end
