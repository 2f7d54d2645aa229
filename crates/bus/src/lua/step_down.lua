-- Gives the fleet reporter lease up if `worker` holds it.
-- KEYS: reporter. ARGV: worker. Returns 1 when it was given up, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
