-- POST a path with no body: wrk -s insert.lua URL -- [PATH] (default /bench/insert, the
-- framework ceiling; /bench/rows writes an intake's three rows).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local path = "/bench/insert"

function init(args)
  if args[1] and args[1] ~= "" then path = args[1] end
end

function request()
  return wrk.format("POST", path, {["Content-Length"] = "0"}, "")
end
