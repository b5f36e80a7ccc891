-- Member churn on the large group (group.tsv: its id): Entra-style PATCH
-- add of one member at a time, then remove.  The members are the spare
-- users (spares.tsv: ids of seeded users outside the group): the script
-- adds every spare in turn, then removes every spare, and again, so the
-- add and the remove of one user are #spares requests apart (more than the
-- requests in flight) and every request changes the group.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local group = bench.rows("group.tsv")[1][1]
local spares = bench.rows("spares.tsv")
local n = 0

function request()
    local spare = spares[(n % #spares) + 1][1]
    local op = (math.floor(n / #spares) % 2 == 0) and "Add" or "Remove"
    n = n + 1
    local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
        .. '"Operations":[{"op":"' .. op .. '","path":"members",'
        .. '"value":[{"value":"' .. spare .. '"}]}]}'
    return bench.send("PATCH", "/Groups/" .. group, body)
end
