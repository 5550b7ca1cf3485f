-- Record one manual observation and queue its evaluation, atomically: both keys carry the patient's
-- shard hash tag {ox:sNN}, so they sit in one slot (also on Redis Cluster). An observation is
-- therefore either stored *and* queued for the evaluation worker, or neither: none waits unscored
-- for the patient's next oximeter reading.
--
-- KEYS[1] the patient's manual-observation stream   KEYS[2] the shard's evaluation stream
-- ARGV[1] stream cap (approximate)   ARGV[2] patient id   ARGV[3] measured ms
-- ARGV[4..] the observation's stream fields, name/value pairs (api/resources/observations.py)
-- Returns the observation's entry id.
local fields = {}
for i = 4, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(fields))
-- `ob` marks an observation entry (a reading's has `r`): api/evaluation.py evaluate_observation_entry.
redis.call('XADD', KEYS[2], '*', 'pt', ARGV[2], 'ob', id, 'm', ARGV[3])
return id
