-- A mixed workload for the memory run (bench.py --rss): what an IdP and
-- the access checks send over a day, by weight: reads by id, userName and
-- externalId filters, page walks of 100, new users and deletions of them,
-- Entra's deactivation and reactivation, and member churn on the large
-- group.  Creates and deletions balance, as over an IdP's day, so that the
-- directory keeps its size: with creates alone it grew tenfold during a
-- run, and the workers' memory grew faster than with a directory of
-- constant size, which is not what the run asks about.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local users = bench.rows("users.tsv")
local spares = bench.rows("spares.tsv")
local group = bench.rows("group.tsv")[1][1]
local PATCH = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
local n, start, churn = 0, 1, 0
local inactive = {}

local function get_user()
    return bench.get("/Users/" .. bench.pick(users)[1])
end

local function filter(col, attr)
    return function()
        local f = attr .. ' eq "' .. bench.pick(users)[col] .. '"'
        return bench.get("/Users?filter=" .. bench.escape(f))
    end
end

local function page()
    local req = bench.get("/Users?startIndex=" .. start .. "&count=100")
    start = start + 100
    if start > #users then
        start = 1
    end
    return req
end

local function post_user()
    n = n + 1
    local name = string.format("mixed-%s-%d-%d@bench.example", bench.run,
                               thread_id or 1, n)
    return bench.send("POST", "/Users",
        '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],'
        .. '"userName":"' .. name .. '","externalId":"ext-' .. name .. '",'
        .. '"emails":[{"value":"' .. name .. '","type":"work"}],'
        .. '"active":true}')
end

-- the users this thread created (their 201 answers), for delete_user
local created = {}
local count_response = response

function response(status, headers, body)
    count_response(status, headers, body)
    if status == 201 and body then
        local id = body:match('"id"%s*:%s*"([^"]+)"')
        if id then
            created[#created + 1] = id
        end
    end
end

local function delete_user()
    local id = table.remove(created)
    if not id then
        return get_user()
    end
    return wrk.format("DELETE", bench.prefix .. "/Users/" .. id,
                      bench.headers(false))
end

local function patch_active()
    local id = bench.pick(users)[1]
    local value = inactive[id] and "True" or "False"
    inactive[id] = not inactive[id]
    return bench.send("PATCH", "/Users/" .. id, PATCH
        .. '"Operations":[{"op":"Replace","path":"active","value":"'
        .. value .. '"}]}')
end

local function member_churn()
    local spare = spares[(churn % #spares) + 1][1]
    local op = (math.floor(churn / #spares) % 2 == 0) and "Add" or "Remove"
    churn = churn + 1
    return bench.send("PATCH", "/Groups/" .. group, PATCH
        .. '"Operations":[{"op":"' .. op .. '","path":"members",'
        .. '"value":[{"value":"' .. spare .. '"}]}]}')
end

-- weight out of 100 each
local mix = {
    { 41, get_user },
    { 15, filter(2, "userName") },
    { 10, filter(3, "externalId") },
    { 2, page },
    { 9, post_user },
    { 9, delete_user },
    { 10, patch_active },
    { 4, member_churn },
}
local pick = {}
for _, m in ipairs(mix) do
    for _ = 1, m[1] do
        pick[#pick + 1] = m[2]
    end
end
assert(#pick == 100)

function request()
    return pick[math.random(100)]()
end
