-- Takes or renews the fleet reporter lease.
-- KEYS: reporter. ARGV: worker, lease_ms. Returns 1 when `worker` holds it now, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
return 0
