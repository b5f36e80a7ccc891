-- A ceiling (and later scim-member): GET of the static file at the URL wrk
-- is given, with HTTP Basic credentials of a random seeded user
-- (basic_auth.tsv: userName, Authorization header value).
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local users = bench.rows("basic_auth.tsv")

function request()
    local user = bench.pick(users)
    return wrk.format("GET", nil, {["Authorization"] = user[2]})
end
