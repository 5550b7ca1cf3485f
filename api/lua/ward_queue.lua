-- The ward queue's inputs for the patients of one shard, in one call (api/queries.py).
-- Hundreds of single HGETs cost more in client-side reply handling than Redis spends on them;
-- one script per shard keeps a 500-patient queue to 16 replies. Every key is in the shard's slot.
-- KEYS[1] latest-reading hash, KEYS[2] open-alert summary hash, KEYS[3..] the patients' hashes
-- ARGV    the patient ids, in the order of KEYS[3..]
-- Returns a flat list, three entries per patient: ref (false while the patient hash lacks `ward`
-- or `enrolled_at`: absent, or an enrolment still in progress, as api/registry.py reads it),
-- latest reading or false, open-alert summary or false. Only the fields the queue shows: the
-- whole patient hash would be parsed and thrown away 500 times per request.
local out = {}
local n = 0
for i, pid in ipairs(ARGV) do
  local f = redis.call('HMGET', KEYS[i + 2], 'ward', 'enrolled_at', 'ref')
  local ref = false
  if f[1] and f[2] then ref = f[3] or '' end
  out[n + 1] = ref
  out[n + 2] = redis.call('HGET', KEYS[1], pid)
  out[n + 3] = redis.call('HGET', KEYS[2], pid)
  n = n + 3
end
return out
