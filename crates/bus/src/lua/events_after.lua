-- Events after seq `after`. The log starts at seq base+1 (base is 0 unless the task was restored
-- after Redis lost it). KEYS: task, log. ARGV: after
local base = tonumber(redis.call('HGET', KEYS[1], 'base') or '0')
local start = tonumber(ARGV[1]) - base
if start < 0 then start = 0 end
return redis.call('LRANGE', KEYS[2], start, -1)
