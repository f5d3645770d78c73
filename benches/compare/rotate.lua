-- wrk script: every request carries the next token from a file of tokens
-- (one a line), so no two consecutive requests of a connection repeat one.
--
--   wrk -t2 -c64 -d10s -s rotate.lua http://127.0.0.1:18080/ -- tokens.txt
--
-- Each wrk thread reads the file once (in init) and starts at its own
-- offset, so the threads do not walk the list in lockstep.

local threads = 0

function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

local tokens = {}
local next_index = 0

function init(args)
  local path = args[1]
  if path == nil then
    error("usage: wrk ... -s rotate.lua URL -- TOKENS_FILE")
  end
  for line in io.lines(path) do
    if #line > 0 then
      tokens[#tokens + 1] = line
    end
  end
  if #tokens == 0 then
    error("no tokens in " .. path)
  end
  local index = thread_index or 0
  next_index = (index * 7919) % #tokens
end

function request()
  next_index = next_index % #tokens + 1
  return wrk.format("GET", "/", { ["Authorization"] = "Bearer " .. tokens[next_index] })
end
