-- A chart's buckets from the per-minute aggregates (api/downsample.py; rollup.lua is in front).
-- KEYS[1] the patient's readings stream   KEYS[2] the patient's rollup hash (same slot)
-- ARGV[1] most entries to catch up on per call   ARGV[2] retention ms
-- ARGV[3], ARGV[4] the minutes [first, last)   ARGV[5] bucket size in minutes (buckets start at
-- multiples of it since the epoch)
-- The ingest script folds every reading as it stores it, and marks the first it folded '~live'.
-- Entries stored before that (history from a version that did not keep the aggregates at ingest)
-- are folded here once, oldest first, ARGV[1] per call, '~w' marking how far; after that this is
-- a single HMGET. Returns {entries caught up on, buckets}: once caught up (fewer than ARGV[1]),
-- `buckets` is one string '<bucket start minute>:<aggregate>;...' of the range's non-empty buckets
-- (one reply for a whole chart), the aggregate as in rollup.lua with its minutes merged: counts
-- and sums add (sums written exactly, '%.17g'), min of the mins, max of the maxes. Otherwise ''.
local hash = KEYS[2]
local chunk = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local keep_from = rollup_first_minute(now - tonumber(ARGV[2]))
local marks = redis.call('HMGET', hash, '~w', '~live')
local w, live = marks[1], marks[2]
local folded = 0
if not (w and w == live) then
  local rows = redis.call('XRANGE', KEYS[1], w and ('(' .. w) or '-', live and ('(' .. live) or '+',
    'COUNT', chunk)
  local fields = {}
  for r = 1, #rows do fields[r] = rows[r][2] end
  rollup_fold(hash, fields, keep_from)
  folded = #rows
  local mark = (folded < chunk and live) or (rows[folded] and rows[folded][1])
  if mark then redis.call('HSET', hash, '~w', mark) end
end
rollup_trim(hash, keep_from, 20000)
if folded >= chunk then return {folded, ''} end
local size = tonumber(ARGV[5])
local function parse(v)
  local a = {}
  for x in string.gmatch(v, '[^,]+') do a[#a + 1] = tonumber(x) end
  return a
end
-- A bucket of one minute (every bucket of a one-minute chart) goes out as stored, unparsed.
local out = {}
local key, only, b = nil, nil, nil
local function flush()
  if b then
    out[#out + 1] = key .. ':' .. string.format('%d,%d,%d,%.17g,%.10g,%.10g,%d,%.17g,%.10g,%.10g',
      b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10])
  elseif only then
    out[#out + 1] = key .. ':' .. only
  end
end
for minute = math.max(tonumber(ARGV[3]), keep_from), tonumber(ARGV[4]) - 1 do
  local v = redis.call('HGET', hash, minute)
  if v then
    local k = math.floor(minute / size) * size
    if k ~= key then
      flush()
      key, only, b = k, v, nil
    else
      b = b or parse(only)
      local a = parse(v)
      for _, i in ipairs({1, 2, 3, 4, 7, 8}) do b[i] = b[i] + a[i] end
      for _, i in ipairs({5, 9}) do
        if a[i] < b[i] then b[i] = a[i] end
        if a[i + 1] > b[i + 1] then b[i + 1] = a[i + 1] end
      end
    end
  end
end
flush()
return {folded, table.concat(out, ';')}
