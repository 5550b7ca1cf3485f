-- Store one reading of one patient, idempotently. All keys share the patient's shard hash tag
-- {ox:sNN}, so they sit in one slot and this script runs atomically there (also on Redis Cluster).
--
-- KEYS[1] ids zset (reading id -> ingest ms)   KEYS[2] patient's readings stream
-- KEYS[3] shard eval stream                     KEYS[4] shard latest hash (patient -> JSON)
-- KEYS[5] patient's chart rollup hash (the functions of rollup.lua are in front of this script)
-- ARGV[1] reading id   ARGV[2] retention ms   ARGV[3] patient id   ARGV[4] measured ms
-- ARGV[5..] the reading's stream fields, name/value pairs (api/reading_codec.py)
-- Returns the new entry id, or false when the id was already stored (a duplicate: nothing written).
local rid = ARGV[1]
if redis.call('ZSCORE', KEYS[1], rid) then
  return false
end
-- Server time, the same clock XADD '*' uses for the entry id, so retention does not depend on
-- the clocks of the ingest processes.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cutoff = now - tonumber(ARGV[2])
local fields = {}
for i = 5, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
-- First write first: if Redis refuses it (e.g. out of memory) nothing else has been written,
-- and the id is only remembered once the reading is in the stream.
-- Exact MINID trim: retention is a privacy promise, and an approximate trim may keep a small
-- stream forever (docs/services.md). Only the oldest entries go, so the cost stays small.
local id = redis.call('XADD', KEYS[2], 'MINID', '=', cutoff, '*', unpack(fields))
-- The de-duplication window is the retention window: an id is remembered as long as its reading.
redis.call('ZADD', KEYS[1], now, rid)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. cutoff)
-- The chart's minute aggregates in the same atomic step, so they never disagree with the history:
-- a stored reading is in its minute exactly once (a duplicate returned above, a late one lands in
-- the minute it was measured in), and minutes go as the history is trimmed.
local keep_from = rollup_first_minute(cutoff)
redis.call('HSETNX', KEYS[5], '~live', id)
rollup_fold(KEYS[5], {fields}, keep_from)
rollup_trim(KEYS[5], keep_from, 1440)
redis.call('XADD', KEYS[3], '*', 'pt', ARGV[3], 'sid', id, unpack(fields))
local old = redis.call('HGET', KEYS[4], ARGV[3])
if (not old) or tonumber(cjson.decode(old)['m']) <= tonumber(ARGV[4]) then
  local obj = {id = id}
  for i = 1, #fields, 2 do
    obj[fields[i]] = fields[i + 1]
  end
  redis.call('HSET', KEYS[4], ARGV[3], cjson.encode(obj))
end
return id
