-- GET /Users?filter=externalId eq "<a random seeded externalId>".
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local users = bench.rows("users.tsv")

function request()
    local filter = 'externalId eq "' .. bench.pick(users)[3] .. '"'
    return bench.get("/Users?filter=" .. bench.escape(filter))
end
