-- Alert state changes of one patient, atomically. Every key carries the patient's shard hash tag
-- {ox:sNN}, so this runs as one step in one slot (also on Redis Cluster).
--
-- KEYS[1] patient's alerts hash (alert id -> alert JSON; field '~open' -> {rule: open alert id})
-- KEYS[2] shard open summary hash (patient -> worst open alert)   KEYS[3] shard alert events stream
-- KEYS[4] shard eval stream (op 'apply' only)
-- ARGV[1] op: get | apply | ack | resolve   ARGV[2] patient id   the rest per op, below.
local INDEX = '~open'
local RANK = {high = 3, medium = 2, low = 1, advisory = 0}
local op, pid = ARGV[1], ARGV[2]

local function load_index()
  local raw = redis.call('HGET', KEYS[1], INDEX)
  if raw then
    return cjson.decode(raw)
  end
  return {}
end

local function save_index(index)
  if next(index) == nil then
    redis.call('HDEL', KEYS[1], INDEX)
  else
    redis.call('HSET', KEYS[1], INDEX, cjson.encode(index))
  end
end

local function open_raw(index, rule)
  local id = index[rule]
  if not id then
    return ''
  end
  return redis.call('HGET', KEYS[1], id) or ''
end

-- The ward queue's input: the patient's worst open alert (highest priority, then the oldest).
local function summarise(index)
  local best, best_rank
  for _, id in pairs(index) do
    local raw = redis.call('HGET', KEYS[1], id)
    if raw then
      local a = cjson.decode(raw)
      local rank = RANK[a.priority] or -1
      if not best or rank > best_rank or (rank == best_rank and a.raised_at < best.raised_at) then
        best, best_rank = a, rank
      end
    end
  end
  if best then
    redis.call('HSET', KEYS[2], pid, cjson.encode({
      alert_id = best.alert_id, priority = best.priority, rule = best.rule, raised_at = best.raised_at,
      state = best.state, spo2 = best.spo2, questionable = best.questionable, late = best.late,
    }))
  else
    redis.call('HDEL', KEYS[2], pid)
  end
end

local function event(kind, a, maxlen, by)
  local f = {'event', kind, 'alert_id', a.alert_id, 'patient_id', pid, 'rule', a.rule,
             'priority', a.priority, 'state', a.state, 'at', a.updated_at}
  if by then
    f[#f + 1] = 'by'
    f[#f + 1] = by
  end
  if kind == 'resolved' and type(a.outcome) == 'string' then
    f[#f + 1] = 'outcome'
    f[#f + 1] = a.outcome
  end
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxlen, '*', unpack(f))
end

if op == 'get' then
  -- ARGV[3] rule. Returns the raw JSON of the patient's open alert for the rule, or ''.
  return open_raw(load_index(), ARGV[3])

elseif op == 'apply' then
  -- ARGV[3] rule  ARGV[4] eval entry id ('' = none)  ARGV[5] consumer group
  -- ARGV[6] expected raw open alert ('' = none)  ARGV[7] new alert JSON ('' = no change)
  -- ARGV[8] event kind  ARGV[9] events maxlen
  -- Returns 'ok', 'stale' (the entry is no longer pending: another consumer settled it) or
  -- 'conflict' (the open alert changed since it was read: read again and re-evaluate).
  local rule, entry = ARGV[3], ARGV[4]
  if entry ~= '' and #redis.call('XPENDING', KEYS[4], ARGV[5], entry, entry, 1) == 0 then
    return 'stale'
  end
  local index = load_index()
  if open_raw(index, rule) ~= ARGV[6] then
    return 'conflict'
  end
  if ARGV[7] ~= '' then
    local a = cjson.decode(ARGV[7])
    redis.call('HSET', KEYS[1], a.alert_id, ARGV[7])
    index[rule] = a.alert_id
    save_index(index)
    event(ARGV[8], a, ARGV[9], nil)
    summarise(index)
  end
  if entry ~= '' then
    redis.call('XACK', KEYS[4], ARGV[5], entry)
    -- Evaluated entries leave the stream: it only ever holds work not yet done.
    redis.call('XDEL', KEYS[4], entry)
  end
  return 'ok'

elseif op == 'ack' or op == 'resolve' then
  -- ARGV[3] alert id  ARGV[4] by  ARGV[5] now (ISO)  ARGV[6] events maxlen  ARGV[7] outcome (resolve)
  -- Returns {'ok', alert JSON}, {'not-found'} or {'conflict', alert JSON} (already resolved).
  local id, by, now = ARGV[3], ARGV[4], ARGV[5]
  local raw = id ~= INDEX and redis.call('HGET', KEYS[1], id)
  if not raw then
    return {'not-found'}
  end
  local a = cjson.decode(raw)
  if a.state == 'resolved' then
    return {'conflict', raw}
  end
  if op == 'ack' and a.state == 'acknowledged' then
    return {'ok', raw}
  end
  a.updated_at = now
  local index = load_index()
  if op == 'ack' then
    a.state, a.acknowledged_by, a.acknowledged_at = 'acknowledged', by, now
  else
    a.state, a.resolved_by, a.resolved_at = 'resolved', by, now
    if ARGV[7] ~= '' then
      a.outcome = ARGV[7]
    end
    if index[a.rule] == id then
      index[a.rule] = nil
      save_index(index)
    end
  end
  local out = cjson.encode(a)
  redis.call('HSET', KEYS[1], id, out)
  event(op == 'ack' and 'acknowledged' or 'resolved', a, ARGV[6], by)
  summarise(index)
  return {'ok', out}
end
return redis.error_reply('unknown op ' .. tostring(op))
