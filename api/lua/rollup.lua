-- Fold a patient's readings into per-minute chart aggregates (api/downsample.py), incrementally.
-- KEYS[1] the patient's readings stream   KEYS[2] the patient's rollup hash (same slot)
-- ARGV[1] max entries to fold   ARGV[2] oldest minute to keep (epoch minutes)
-- ARGV[3] Measurement Status bits that make a value unusable   ARGV[4] same, Device and Sensor Status
-- ARGV[5] Measurement Status bits unusable for spot-checks only (measurement ongoing)
-- ARGV[6], ARGV[7] optional: the minutes [first, last) to return once the fold is up to date
-- Hash fields: '<epoch minute>' -> 'n,x,ns,sums,mins,maxs,np,sump,minp,maxp' (readings, excluded,
-- then count/sum/min/max of SpO2 and of pulse); '~w' the last entry id folded; '~lo' the oldest
-- minute not yet trimmed. Returns {entries folded, minutes}: when fewer than ARGV[1] were folded (up
-- to date) and a range is given, `minutes` is one string '<minute>:<aggregate>;...' of the range's
-- non-empty minutes (one reply for a whole chart, not one per minute); otherwise ''.
local w = redis.call('HGET', KEYS[2], '~w')
local low = '-'
if w then low = '(' .. w end
local rows = redis.call('XRANGE', KEYS[1], low, '+', 'COUNT', tonumber(ARGV[1]))
local keep_from = tonumber(ARGV[2])
local mmask, dmask, ongoing = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local acc = {}
local function bucket(minute)
  local a = acc[minute]
  if a then return a end
  local old = redis.call('HGET', KEYS[2], tostring(minute))
  if old then
    a = {}
    for v in string.gmatch(old, '[^,]+') do a[#a + 1] = tonumber(v) end
  else
    a = {0, 0, 0, 0, 1e308, -1e308, 0, 0, 1e308, -1e308}
  end
  acc[minute] = a
  return a
end
local function add(a, i, v)
  a[i] = a[i] + 1
  a[i + 1] = a[i + 1] + v
  if v < a[i + 2] then a[i + 2] = v end
  if v > a[i + 3] then a[i + 3] = v end
end
for r = 1, #rows do
  local f = rows[r][2]
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
    local a = bucket(minute)
    a[1] = a[1] + 1
    local bad = (ms and bit.band(ms, mmask) ~= 0) or (ds and bit.band(ds, dmask) ~= 0)
      or (o == 's' and ms and bit.band(ms, ongoing) ~= 0)
    if bad then
      a[2] = a[2] + 1
    else
      if s then add(a, 3, s) end
      if p then add(a, 7, p) end
    end
  end
end
for minute, a in pairs(acc) do
  local parts = {}
  for i = 1, 10 do parts[i] = string.format('%.10g', a[i]) end
  redis.call('HSET', KEYS[2], tostring(minute), table.concat(parts, ','))
end
if #rows > 0 then redis.call('HSET', KEYS[2], '~w', rows[#rows][1]) end
-- Trim minutes that left the retention window, a bounded number per call.
local lo = tonumber(redis.call('HGET', KEYS[2], '~lo') or keep_from)
local stop = math.min(keep_from, lo + 20000)
for minute = lo, stop - 1 do redis.call('HDEL', KEYS[2], tostring(minute)) end
redis.call('HSET', KEYS[2], '~lo', tostring(math.max(lo, stop)))
local out = {}
if #rows < tonumber(ARGV[1]) and ARGV[7] then
  for minute = tonumber(ARGV[6]), tonumber(ARGV[7]) - 1 do
    local v = redis.call('HGET', KEYS[2], tostring(minute))
    if v then out[#out + 1] = minute .. ':' .. v end
  end
end
return {#rows, table.concat(out, ';')}
