/**
 * Lua scripts on a consult's seats hash (`telemed:consult:<id>:seats`): each entry carries an
 * `epoch` that every move of the seat to another node bumps, and the digest of its current
 * resume secret (`resume`, sha256 hex; never the secret). A script runs atomically, so of two
 * nodes claiming one seat exactly one wins, and a late write of a former owner is ignored.
 */

/**
 * Writes a seat of this node. ARGV: peer id, entry JSON, epoch ('' when the node seats someone
 * new: the epoch moves on past another node's entry for the same id), TTL seconds. Answers
 * the epoch written, or -1 when the seat has since moved on (a newer epoch or another node).
 */
export const WRITE_SEAT = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local old = cur and cjson.decode(cur) or nil
local e = cjson.decode(ARGV[2])
local epoch = 0
if ARGV[3] == '' then
  if old then
    epoch = tonumber(old.epoch) or 0
    if old.node ~= e.node then epoch = epoch + 1 else e.resume = old.resume end
  end
else
  epoch = tonumber(ARGV[3])
  if old then
    if (tonumber(old.epoch) or 0) > epoch or old.node ~= e.node then return -1 end
    e.resume = old.resume
  end
end
e.epoch = epoch
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(e))
redis.call('EXPIRE', KEYS[1], ARGV[4])
return epoch
`;

/** Sets the seat's resume digest if this node (ARGV[2]) holds it. ARGV: peer id, node, digest. */
export const SET_RESUME = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local e = cjson.decode(cur)
if e.node ~= ARGV[2] then return 0 end
e.resume = ARGV[3]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(e))
return 1
`;

/** Removes seats (ARGV[2..]) only where this node (ARGV[1]) still holds them. */
export const REMOVE_SEATS = `
local n = 0
for i = 2, #ARGV do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if cur and cjson.decode(cur).node == ARGV[1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
`;

/**
 * Moves a seat to node ARGV[4] if it is still on node ARGV[2] with resume digest ARGV[3]
 * (compare-and-set): bumps the epoch, clears the digest (a secret takes a seat over once) and
 * drops the seat's producers of other nodes from the producers hash (KEYS[2]). Answers
 * [epoch, removed producer ids...], or nil when the seat is gone, moved or the digest differs.
 */
export const CLAIM_SEAT = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return nil end
local e = cjson.decode(cur)
if e.node ~= ARGV[2] or e.resume ~= ARGV[3] or ARGV[3] == '' then return nil end
e.node = ARGV[4]
e.epoch = (tonumber(e.epoch) or 0) + 1
e.resume = nil
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(e))
redis.call('EXPIRE', KEYS[1], ARGV[5])
local out = { tostring(e.epoch) }
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local ok, p = pcall(cjson.decode, all[i + 1])
  if ok and type(p) == 'table' and p.peerId == ARGV[1] and p.node ~= ARGV[4] then
    redis.call('HDEL', KEYS[2], all[i])
    out[#out + 1] = all[i]
  end
end
return out
`;
