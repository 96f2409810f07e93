-- The public report form (群众点单): POST /report/<community>/ with the CSRF cookie and
-- token fetched once, and a fresh submission token for every request.
-- wrk -s form.lua URL -- PATH CSRF_COOKIE CSRF_TOKEN BODY_REST RUN_ID
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local path, cookie, token, rest, run
local n = 0

function init(args)
  path, cookie, token, rest, run = args[1], args[2], args[3], args[4], args[5]
end

function request()
  n = n + 1
  local submission = string.format("bench%s-%02d-%010d", run, tid or 0, n)
  local body = "csrfmiddlewaretoken=" .. token .. "&submission_token=" .. submission .. "&" .. rest
  return wrk.format("POST", path, {
    ["Cookie"] = "csrftoken=" .. cookie,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, body)
end
