-- A ceiling: GET of the static file (the size of a user's GET response)
-- at the URL wrk is given, no authentication.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local req

-- wrk adds the Host header only in its own init, before calling this one:
-- format the request here, not when the script loads.
function init(args)
    req = wrk.format("GET")
end

function request()
    return req
end
