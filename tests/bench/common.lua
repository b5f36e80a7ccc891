-- Shared by the workload scripts (each starts with
--   dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")).
-- bench.py passes the run's settings in the environment:
--   BENCH_PREFIX  the SCIM location (/scim/v2/bench)
--   BENCH_TOKEN   its bearer token
--   BENCH_DATA    directory of the seeder's files (users.tsv, ...)
--   BENCH_RUN     a tag unique to this run (for new userNames)
-- It counts responses by status in every wrk thread and, in done(), prints
-- one line "BENCH_RESULT {json}" that bench.py parses.

bench = {
    prefix = os.getenv("BENCH_PREFIX") or "",
    token = os.getenv("BENCH_TOKEN") or "",
    data = os.getenv("BENCH_DATA") or ".",
    run = os.getenv("BENCH_RUN") or tostring(os.time()),
}

-- Each wrk thread has its own Lua state; seed each one differently.
math.randomseed(os.time() + math.floor(os.clock() * 1000000))

-- The rows of a tab-separated file of the seeder, as arrays of fields.
function bench.rows(name)
    local rows = {}
    local f = assert(io.open(bench.data .. "/" .. name, "r"))
    for line in f:lines() do
        local row = {}
        for field in line:gmatch("[^\t]+") do
            row[#row + 1] = field
        end
        rows[#rows + 1] = row
    end
    f:close()
    assert(#rows > 0, name .. " is empty")
    return rows
end

function bench.pick(rows)
    return rows[math.random(#rows)]
end

-- Percent-encodes a query parameter value (spaces as %20, as IdPs send).
function bench.escape(s)
    return (s:gsub("[^%w%-%._~]", function(c)
        return string.format("%%%02X", string.byte(c))
    end))
end

function bench.headers(with_body)
    local h = {
        ["Authorization"] = "Bearer " .. bench.token,
        ["Accept"] = "application/scim+json",
    }
    if with_body then
        h["Content-Type"] = "application/scim+json"
    end
    return h
end

function bench.get(path)
    return wrk.format("GET", bench.prefix .. path, bench.headers(false))
end

function bench.send(method, path, body)
    return wrk.format(method, bench.prefix .. path, bench.headers(true), body)
end

-- POST /Users of a new user as Entra ID creates one: userName, externalId,
-- name, a primary work e-mail (the userName), active.
function bench.post_user(name, family_name)
    return bench.send("POST", "/Users",
        '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],'
        .. '"userName":"' .. name .. '","externalId":"ext-' .. name .. '",'
        .. '"name":{"givenName":"Bench","familyName":"' .. family_name .. '"},'
        .. '"emails":[{"value":"' .. name .. '","type":"work","primary":true}],'
        .. '"active":true}')
end

-- ---- counting and reporting ----------------------------------------------

statuses = {}

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

local threads = {}

function setup(thread)
    threads[#threads + 1] = thread
    thread:set("thread_id", #threads)
end

function done(summary, latency, requests)
    local counts = {}
    for _, t in ipairs(threads) do
        for status, n in pairs(t:get("statuses")) do
            counts[status] = (counts[status] or 0) + n
        end
    end
    local parts = {}
    for status, n in pairs(counts) do
        parts[#parts + 1] = string.format('"%d": %d', status, n)
    end
    local e = summary.errors
    io.write(string.format(
        'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d,'
        .. ' "p99_us": %d, "max_us": %d, "statuses": {%s},'
        .. ' "socket_errors": {"connect": %d, "read": %d, "write": %d,'
        .. ' "timeout": %d}}\n',
        summary.requests, summary.duration, latency:percentile(50),
        latency:percentile(99), latency.max, table.concat(parts, ", "),
        e.connect, e.read, e.write, e.timeout))
end
