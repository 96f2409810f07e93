-- GET one path, optionally with a cookie: wrk -s get.lua URL -- PATH [COOKIE]
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local path, cookie

function init(args)
  path = args[1]
  cookie = args[2]
end

function request()
  local headers = {}
  if cookie and cookie ~= "" then headers["Cookie"] = cookie end
  return wrk.format("GET", path, headers)
end
