-- GET /Users?filter=userName eq "<a random seeded userName>" (Entra's and
-- Okta's lookup before a create).
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local users = bench.rows("users.tsv")

function request()
    local filter = 'userName eq "' .. bench.pick(users)[2] .. '"'
    return bench.get("/Users?filter=" .. bench.escape(filter))
end
