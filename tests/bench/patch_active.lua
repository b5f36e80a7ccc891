-- Entra's deactivation and reactivation: PATCH /Users/{id} of a random
-- seeded user, replacing active with the string "False" or "True": the
-- opposite of what this script last sent for that user (seeded active), so
-- every request changes the user and commits.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local users = bench.rows("users.tsv")
local inactive = {}

function request()
    local id = bench.pick(users)[1]
    local value = inactive[id] and "True" or "False"
    inactive[id] = not inactive[id]
    local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
        .. '"Operations":[{"op":"Replace","path":"active","value":"'
        .. value .. '"}]}'
    return bench.send("PATCH", "/Users/" .. id, body)
end
