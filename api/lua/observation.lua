-- Record a set of manual observations (one or more) and queue ONE evaluation for it, atomically:
-- both keys carry the patient's shard hash tag {ox:sNN}, so they sit in one slot (also on Redis
-- Cluster). A set is therefore stored *and* queued for the evaluation worker, or none of it: none
-- waits unscored for the patient's next oximeter reading, and a set is scored once, as a whole --
-- never part of it in one worker batch and the rest in the next (a medium alert then its upgrade).
-- Every value was checked before the call (api/resources/observations.py), so no XADD here fails
-- half-way through a set.
--
-- KEYS[1] the patient's manual-observation stream   KEYS[2] the shard's evaluation stream
-- ARGV[1] stream cap (approximate)   ARGV[2] patient id   ARGV[3] measured ms
-- ARGV[4..] per observation: n, then its n stream field strings (name/value pairs)
-- Returns the observations' entry ids, in the order given.
local ids = {}
local i = 4
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  ids[#ids + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
-- `ob` marks an observation entry (a reading's has `r`): api/evaluation.py evaluate_observation_entry.
-- The set's last id: the worker reads the patient's recent observations, so it scores them together.
redis.call('XADD', KEYS[2], '*', 'pt', ARGV[2], 'ob', ids[#ids], 'm', ARGV[3])
return ids
