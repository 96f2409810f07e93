-- POST /bench/insert (no body): the framework ceiling.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function request()
  return wrk.format("POST", "/bench/insert", {["Content-Length"] = "0"}, "")
end
