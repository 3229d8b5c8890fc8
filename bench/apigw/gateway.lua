-- wrk script: GET /gateways/{mac} for one of the bench's gateways, chosen
-- at random per request, so that apigw's lookups are not all one cache
-- line. lorafleet-bench-apigw runs it as
--   wrk ... -s gateway.lua http://127.0.0.1:PORT/ -- <mac prefix> <gateways>
-- where gateway i is <mac prefix> followed by i as 8 hex digits.
-- The requests are formatted once, in init(): request() runs for every
-- request and its cost is wrk's, on the same two cores as apigw.

local requests = {}
local count = 0

function init(args)
	local prefix = args[1] or "be0e0000"
	count = tonumber(args[2] or "10000")
	for i = 0, count - 1 do
		-- wrk.format adds wrk.headers (the -H X-API-Key) and Host.
		requests[i + 1] = wrk.format("GET", string.format("/gateways/%s%08x", prefix, i))
	end
	-- Each thread its own sequence of gateways.
	math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
end

function request()
	return requests[math.random(count)]
end
