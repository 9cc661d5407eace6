-- unsubscribe.lua: wrk script for bench/http/run.sh. Each wrk thread POSTs
-- RFC 8058 one-click unsubscribes to its own slice of the token file
-- ($TOKENS, one token per line), so concurrent requests name different
-- recipients and the first pass over the file records new unsubscribes.
-- $OFFSET skips that many tokens (a later window starts on fresh ones).
-- With $PACE_MS set, each connection waits that long before each request
-- (think time), so C connections offer at most C * 1000 / PACE_MS requests/s.
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local counter = 0
local threads = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  threads = counter
end

function init(args)
  i = id + tonumber(os.getenv("OFFSET") or "0")
  step = tonumber(os.getenv("WRK_THREADS") or "2")
end

function request()
  i = i + step
  local t = tokens[(i % #tokens) + 1]
  return wrk.format("POST", "/u/" .. t,
                    {["Content-Type"] = "application/x-www-form-urlencoded"},
                    "List-Unsubscribe=One-Click")
end

local pace = tonumber(os.getenv("PACE_MS") or "0")

function delay()
  return pace
end
