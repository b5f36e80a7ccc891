-- POST /Users of a new user with a userName no other request uses.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local n = 0

function request()
    n = n + 1
    local name = string.format("post-%s-%d-%d@bench.example", bench.run,
                               thread_id or 1, n)
    return bench.post_user(name, "Post")
end
