-- Okta's import: GET /Users?startIndex=s&count=100, s stepping by 100
-- through the seeded users and starting over at the end.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local total = #bench.rows("users.tsv")
local start = 1

function request()
    local req = bench.get("/Users?startIndex=" .. start .. "&count=100")
    start = start + 100
    if start > total then
        start = 1
    end
    return req
end
