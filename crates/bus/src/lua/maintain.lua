-- Run by every worker about once a second; cheap when there is nothing to do.
-- 1. Jobs whose lease expired go back to the queue (the attempt stays counted).
--    Re-queued jobs record `enqueued` = now: their queue wait counts from here.
-- 2. Processing lists of workers that stopped heart-beating go back to the queue.
-- 3. Delayed retries that are due move to the queue.
-- KEYS: leases, workers, delayed, queue. ARGV: prefix, now_ms, worker_timeout_ms
-- Returns {expired leases, orphans, promoted}.
local prefix, now = ARGV[1], tonumber(ARGV[2])
-- The queue wait of a re-queued job counts from now; a job whose hash is gone stays gone (the
-- claim drops its id), so no half hash is made here.
local function requeued(job)
  if redis.call('EXISTS', job) == 1 then
    redis.call('HSET', job, 'enqueued', ARGV[2])
  end
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(expired) do
  local job = prefix .. ':job:' .. id
  local worker = redis.call('HGET', job, 'worker')
  if worker then
    redis.call('LREM', prefix .. ':processing:' .. worker, 1, id)
  end
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', job, 'token', 'worker')
  requeued(job)
  redis.call('LPUSH', KEYS[4], id)
end
local orphans = 0
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[3]), 'LIMIT', 0, 20)
for _, worker in ipairs(dead) do
  local processing = prefix .. ':processing:' .. worker
  for _, id in ipairs(redis.call('LRANGE', processing, 0, -1)) do
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', prefix .. ':job:' .. id, 'token', 'worker')
    requeued(prefix .. ':job:' .. id)
    redis.call('LPUSH', KEYS[4], id)
    orphans = orphans + 1
  end
  redis.call('DEL', processing)
  redis.call('ZREM', KEYS[2], worker)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[3], id)
  redis.call('LPUSH', KEYS[4], id)
end
return {#expired, orphans, #due}
