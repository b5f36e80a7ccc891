-- GET /Users/{id} of a random seeded user (users.tsv: id, userName, externalId).
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local users = bench.rows("users.tsv")

function request()
    return bench.get("/Users/" .. bench.pick(users)[1])
end
