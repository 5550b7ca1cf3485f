-- The ward queue's inputs for the patients of one shard, in one call (api/queries.py).
-- Hundreds of single HGETs cost more in client-side reply handling than Redis spends on them;
-- one script per shard keeps a 500-patient queue to 16 replies. Every key is in the shard's slot.
-- KEYS[1] latest-reading hash, KEYS[2] open-alert summary hash, KEYS[3..] the patients' hashes
-- ARGV    the patient ids, in the order of KEYS[3..]
-- Returns, per patient: {HGETALL of the patient hash, latest reading or false, summary or false}
local out = {}
for i, pid in ipairs(ARGV) do
  out[i] = {
    redis.call('HGETALL', KEYS[i + 2]),
    redis.call('HGET', KEYS[1], pid),
    redis.call('HGET', KEYS[2], pid),
  }
end
return out
