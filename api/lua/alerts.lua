-- Alert state changes of one patient, atomically. Every key carries the patient's shard hash tag
-- {ox:sNN}, so this runs as one step in one slot (also on Redis Cluster). The lifecycle itself is
-- computed in Python (alerting/lifecycle.py); this script only compares and sets.
--
-- KEYS[1] patient's alerts hash (alert id -> alert JSON; field '~open' -> {rule: open alert id})
-- KEYS[2] shard open summary hash (patient -> worst open alert)   KEYS[3] shard alert events stream
-- KEYS[4] shard eval stream   KEYS[5] patient's alerting state hash   KEYS[6] shard notifications
-- KEYS[7] shard metrics hash (alerts raised / upgraded by priority, counted with the save itself)
-- ARGV[1] op: get | open | save   ARGV[2] patient id   the rest per op, below.
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

-- The counters GET /metrics exports as oxiward_alerts_raised_total{priority} and
-- oxiward_alerts_upgraded_total{priority} (api/metrics.py): one per raised / upgraded event saved.
local COUNTED = {raised = 'alerts_raised:', upgraded = 'alerts_upgraded:'}

local function count_events(events)
  for _, fields in ipairs(events) do
    local event, priority
    for i = 1, #fields - 1, 2 do
      if fields[i] == 'event' then
        event = fields[i + 1]
      elseif fields[i] == 'priority' then
        priority = fields[i + 1]
      end
    end
    if event and priority and COUNTED[event] then
      redis.call('HINCRBY', KEYS[7], COUNTED[event] .. priority, 1)
    end
  end
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

-- The ward queue's input: the patient's worst open alert (highest priority, then the oldest),
-- who acknowledged it, and how many alerts are open.
local function summarise(index)
  local best, best_rank
  local count = 0
  for _, id in pairs(index) do
    local raw = redis.call('HGET', KEYS[1], id)
    if raw then
      count = count + 1
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
      acknowledged_by = best.acknowledged_by, open_count = count,
    }))
  else
    redis.call('HDEL', KEYS[2], pid)
  end
end

if op == 'get' then
  -- ARGV[3] rule. Returns the raw JSON of the patient's open alert for the rule, or ''.
  return open_raw(load_index(), ARGV[3])

elseif op == 'open' then
  -- Returns {rule1, raw1, rule2, raw2, ...}: every open alert of the patient.
  local out = {}
  for rule, id in pairs(load_index()) do
    local raw = redis.call('HGET', KEYS[1], id)
    if raw then
      out[#out + 1] = rule
      out[#out + 1] = raw
    end
  end
  return out

elseif op == 'save' then
  -- ARGV[3] eval entry id ('' = none)  ARGV[4] consumer group  ARGV[5] change JSON
  -- ARGV[6] events maxlen  ARGV[7] notifications maxlen
  -- Change: {expect = {rule: raw open alert or ''}, expect_ids = {alert id: raw},
  --          expect_state = raw 'continuous' state ('' = absent; key absent = not checked),
  --          alerts = [raw alert JSON], events = [[field, value, ...]], notify = [[field, value, ...]],
  --          state_set = {field: value}, state_max = {field: ISO time, set only if later}}
  -- Returns 'ok', 'stale' (the entry is no longer pending: another consumer settled it) or
  -- 'conflict' (what was read has changed: read again and re-evaluate). Nothing is written then.
  local entry = ARGV[3]
  if entry ~= '' and #redis.call('XPENDING', KEYS[4], ARGV[4], entry, entry, 1) == 0 then
    return 'stale'
  end
  local c = cjson.decode(ARGV[5])
  local index = load_index()
  for rule, raw in pairs(c.expect or {}) do
    if open_raw(index, rule) ~= raw then
      return 'conflict'
    end
  end
  for id, raw in pairs(c.expect_ids or {}) do
    if (id == INDEX and '' or (redis.call('HGET', KEYS[1], id) or '')) ~= raw then
      return 'conflict'
    end
  end
  if c.expect_state ~= nil and (redis.call('HGET', KEYS[5], 'continuous') or '') ~= c.expect_state then
    return 'conflict'
  end
  local alerts = c.alerts or {}
  for _, raw in ipairs(alerts) do
    local a = cjson.decode(raw)
    redis.call('HSET', KEYS[1], a.alert_id, raw)
    if a.state == 'resolved' then
      if index[a.rule] == a.alert_id then
        index[a.rule] = nil
      end
    else
      index[a.rule] = a.alert_id
    end
  end
  for _, fields in ipairs(c.events or {}) do
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', unpack(fields))
  end
  count_events(c.events or {})
  for _, fields in ipairs(c.notify or {}) do
    redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[7], '*', unpack(fields))
  end
  for field, value in pairs(c.state_set or {}) do
    redis.call('HSET', KEYS[5], field, value)
  end
  for field, value in pairs(c.state_max or {}) do
    local held = redis.call('HGET', KEYS[5], field)
    if not held or held < value then
      redis.call('HSET', KEYS[5], field, value)
    end
  end
  if #alerts > 0 then
    save_index(index)
    summarise(index)
  end
  if entry ~= '' then
    redis.call('XACK', KEYS[4], ARGV[4], entry)
    -- Evaluated entries leave the stream: it only ever holds work not yet done.
    redis.call('XDEL', KEYS[4], entry)
  end
  return 'ok'
end
return redis.error_reply('unknown op ' .. tostring(op))
