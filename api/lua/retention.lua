-- Trim one patient's reading history, de-duplication ids and chart minutes to the retention
-- window. Ingest trims them only when the patient's next reading arrives; this covers patients
-- whose readings stopped (discharged, device returned). All keys share the patient's shard tag.
--
-- KEYS[1] ids zset   KEYS[2] readings stream   KEYS[3] chart rollup hash   ARGV[1] retention ms
-- ARGV[2] at most this many minutes walked (the window's start moves an hour between sweeps; more
-- only after the retention was shortened)
-- Returns the number of history entries removed.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cutoff = now - tonumber(ARGV[1])
local removed = 0
if redis.call('EXISTS', KEYS[2]) == 1 then
  removed = redis.call('XTRIM', KEYS[2], 'MINID', '=', cutoff)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. cutoff)
rollup_trim(KEYS[3], rollup_first_minute(cutoff), tonumber(ARGV[2]))
return removed
