-- pipeline.lua — TechEmpower-style HTTP/1.1 pipelining for wrk.
--
-- Every write carries DEPTH requests back to back (default 16; pass another
-- with `wrk ... -s bench/pipeline.lua URL -- DEPTH`). wrk counts each
-- response as a request, and records one latency sample per batch: the time
-- from the write until the last of its DEPTH responses has been read.
local req

init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil, wrk.path)
  end
  req = table.concat(r)
end

request = function()
  return req
end
