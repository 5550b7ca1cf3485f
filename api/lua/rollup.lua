-- Per-minute chart aggregates of a patient's readings (api/downsample.py). Not a script on its
-- own: api/rollup_lua.py puts it in front of ingest.lua (each reading, in the step that stores it)
-- and series.lua (catching up on history stored before the aggregates were kept at ingest), after
-- `local MMASK, DMASK, ONGOING = ...`, the unscorable status bits of alerting/quality.py. Both
-- therefore fold a reading the same way.
-- Hash fields: '<epoch minute>' -> 'n,x,ns,sums,mins,maxs,np,sump,minp,maxp' by *measured* minute
-- (readings, excluded readings, then count/sum/min/max of SpO2 and of pulse); '~lo' the oldest
-- minute not yet trimmed; '~live' the first entry the ingest script folded; '~w' how far
-- series.lua caught up on the entries before it.

-- The first whole minute inside the retention window (`cutoff` = now - retention, Redis server
-- time, the clock of the history's MINID trim). A minute is kept only while every reading measured
-- in it is still in the history (stored no earlier than measured, so not yet trimmed).
local function rollup_first_minute(cutoff)
  return math.ceil(cutoff / 60000)
end

local function rollup_add(a, i, v)
  a[i] = a[i] + 1
  a[i + 1] = a[i + 1] + v
  if v < a[i + 2] then a[i + 2] = v end
  if v > a[i + 3] then a[i + 3] = v end
end

-- Fold stream entries (flat field lists, api/reading_codec.py) into the minutes they were
-- measured in. A reading the device flagged unusable counts in `excluded` and adds no values.
local function rollup_fold(hash, rows, keep_from)
  local acc = {}
  for r = 1, #rows do
    local f = rows[r]
    local m, s, p, ms, ds, o
    for j = 1, #f, 2 do
      local k = f[j]
      if k == 'm' then m = tonumber(f[j + 1])
      elseif k == 's' then s = tonumber(f[j + 1])
      elseif k == 'p' then p = tonumber(f[j + 1])
      elseif k == 'ms' then ms = tonumber(f[j + 1])
      elseif k == 'ds' then ds = tonumber(f[j + 1])
      elseif k == 'o' then o = f[j + 1]
      end
    end
    local minute = math.floor(m / 60000)
    if minute >= keep_from then
      local a = acc[minute]
      if not a then
        local old = redis.call('HGET', hash, minute)
        if old then
          a = {}
          for v in string.gmatch(old, '[^,]+') do a[#a + 1] = tonumber(v) end
        else
          a = {0, 0, 0, 0, 1e308, -1e308, 0, 0, 1e308, -1e308}
        end
        acc[minute] = a
      end
      a[1] = a[1] + 1
      local bad = (ms and bit.band(ms, MMASK) ~= 0) or (ds and bit.band(ds, DMASK) ~= 0)
        or (o == 's' and ms and bit.band(ms, ONGOING) ~= 0)
      if bad then
        a[2] = a[2] + 1
      else
        if s then rollup_add(a, 3, s) end
        if p then rollup_add(a, 7, p) end
      end
    end
  end
  for minute, a in pairs(acc) do
    local parts = {}
    for i = 1, 10 do parts[i] = string.format('%.10g', a[i]) end
    redis.call('HSET', hash, minute, table.concat(parts, ','))
  end
end

-- Drop the minutes that left the retention window, at most `most` per call (a patient silent
-- for days catches up over a few calls rather than in one long script).
local function rollup_trim(hash, keep_from, most)
  local lo = redis.call('HGET', hash, '~lo')
  if not lo then
    -- A new rollup: nothing older than the window was ever folded into it.
    if redis.call('EXISTS', hash) == 1 then redis.call('HSET', hash, '~lo', keep_from) end
    return
  end
  lo = tonumber(lo)
  if lo >= keep_from then return end
  local stop = math.min(keep_from, lo + most)
  for minute = lo, stop - 1 do redis.call('HDEL', hash, minute) end
  redis.call('HSET', hash, '~lo', stop)
end
