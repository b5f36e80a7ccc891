-- Issue 9's creation run: BENCH_CREATE new users in all, POSTed from
-- wrk's connections (run it with one thread: -t 1), then wrk stops by
-- itself.
-- Each connection sends its next POST once its last one was answered;
-- when every POST has been sent, the connections wait (delay) instead of
-- sending anything else, so wrk's latencies are those of the POSTs only;
-- when the last one is answered, the thread stops and wakes wrk's main
-- thread (SIGINT), which prints the results at once instead of sleeping
-- out -d (-d is only the bound).  bench.py then compares the users stored
-- with the 201s counted here.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local ffi = require("ffi")
ffi.cdef [[
int kill(int pid, int sig);
int getpid(void);
]]

local quota = assert(tonumber(os.getenv("BENCH_CREATE")), "BENCH_CREATE")
local sent, answered = 0, 0
-- wrk asks the first thread for one request before any connection exists
-- (to check it), and never sends that one.
local checked = false
-- Only a connection wrk opens again after an error asks for a request
-- without a delay first: it gets a GET outside SCIM that httpd answers 404
-- (never an answer to a POST /Users), not counted as one.
local filler = wrk.format("GET", "/bench-filler-not-found")

function request()
    if not checked then
        checked = true
        return filler
    end
    if sent >= quota then
        return filler
    end
    sent = sent + 1
    local name = string.format("create-%s-%d@bench.example", bench.run, sent)
    return bench.post_user(name, "Create")
end

function delay()
    return sent >= quota and 3600000 or 0
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
    if status == 404 then
        return              -- the filler
    end
    answered = answered + 1
    if answered >= quota then
        wrk.thread:stop()
        ffi.C.kill(ffi.C.getpid(), 2)
    end
end
