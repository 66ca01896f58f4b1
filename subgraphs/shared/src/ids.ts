import { randomBytes } from 'node:crypto';
import { logicalShardCount } from './limits';
import { assert } from './result';

/**
 * Every id carries its logical shard, so routing never needs a lookup table:
 *   acc_01JDP5Z9K3M4N6Q7R8S9T0V1WX_2a
 *   ^^^ kind  ^^^^^^^^^^^^^^^^^^^^^^^^^^ ULID (time-ordered)  ^^ logical shard, hex
 * The ULID comes first so that sorting ids sorts them by creation time across shards.
 */
export const idKinds = {
  account: 'acc',
  posting: 'pst',
  entry: 'ent',
  payment: 'pay',
  refund: 'ref',
  deposit: 'dep',
  withdrawal: 'wdr',
  sweep: 'swp',
  settlement: 'stl',
  reconciliation: 'rec',
  hold: 'hld',
  idempotency: 'idm',
  fxRate: 'fxr',
  fxQuote: 'fxq',
  campaign: 'cmp',
  webhookEndpoint: 'whe',
  webhookDelivery: 'whd',
  advance: 'adv',
  externalAccount: 'ext',
} as const;

export type IdKind = keyof typeof idKinds;
export type LogicalShard = number & { readonly brand: 'LogicalShard' };

const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const idPattern = /^([a-z]{3})_([0-9A-HJKMNP-TV-Z]{26})_([0-9a-f]{2})$/;

export function ulid(nowMs: number = Date.now()): string {
  const time = ulidTime(nowMs);
  const bytes = takeRandom(16);
  let random = '';
  for (let i = 0; i < 16; i++) random += crockford[bytes[i]! % 32];
  return time + random;
}

/** A ULID's first ten characters: the millisecond it was minted, so that ULIDs sort by time. */
function ulidTime(nowMs: number): string {
  let time = '';
  let t = nowMs;
  for (let i = 0; i < 10; i++) {
    time = crockford[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return time;
}

/**
 * A bound on ids of a kind by age: every id of the kind minted before `at` sorts below it (as a
 * string), every one minted at or after it above, since an id's ULID time comes first.
 */
export function idsMintedBefore(kind: IdKind, at: Date): string {
  return `${idKinds[kind]}_${ulidTime(at.getTime())}`;
}

/**
 * Random bytes from a pool refilled randomPoolBytes at a time: one getrandom call for 256 ids
 * instead of one per id (a posting mints several ids, and the call was 6% of the transaction
 * subgraph's CPU). The bytes are still the CSPRNG's, each handed out once.
 */
const randomPoolBytes = 4096;
let randomPool = randomBytes(randomPoolBytes);
let randomOffset = 0;

function takeRandom(count: number): Buffer {
  if (randomOffset + count > randomPoolBytes) {
    randomPool = randomBytes(randomPoolBytes);
    randomOffset = 0;
  }
  const bytes = randomPool.subarray(randomOffset, randomOffset + count);
  randomOffset += count;
  return bytes;
}

export function toLogicalShard(value: number): LogicalShard {
  if (!Number.isInteger(value) || value < 0 || value >= logicalShardCount) {
    throw new RangeError(`logical shard ${value} is outside 0..${logicalShardCount - 1}`);
  }
  return value as LogicalShard;
}

export function newId(kind: IdKind, shard: LogicalShard): string {
  return `${idKinds[kind]}_${ulid()}_${idSuffix(shard)}`;
}

/** The last two characters of an id of the logical shard: its number in hex, what SQL reads with RIGHT(id, 2). */
export function idSuffix(shard: number): string {
  return shard.toString(16).padStart(2, '0');
}

/** Parses an id of the expected kind; null for anything malformed, never a guess. */
export function parseId(kind: IdKind, id: string): { id: string; shard: LogicalShard } | null {
  if (id.length !== 33) return null;
  const match = idPattern.exec(id);
  if (!match || match[1] !== idKinds[kind]) return null;
  const shard = Number.parseInt(match[3]!, 16);
  if (shard >= logicalShardCount) return null;
  return { id, shard: shard as LogicalShard };
}

/**
 * The logical shard of an id of this kind that is known to be well formed: one parsed at the
 * edge, or read from our own rows. A malformed one here is a bug, never user input (which is
 * parsed with parseId and refused as a value), so it fails loudly instead of routing anywhere.
 */
export function shardOf(kind: IdKind, id: string): LogicalShard {
  const parsed = parseId(kind, id);
  assert(parsed !== null, `${kind} id ${JSON.stringify(id)} is malformed`);
  return parsed.shard;
}

/**
 * The logical shard of one of our own ids whatever its kind (an outbox row's id is a payment's, a refund's, a
 * sweep's…): its last two characters, as placement reads them (RIGHT(id, 2)). Malformed is a bug, as in shardOf.
 */
export function shardOfAnyId(id: string): LogicalShard {
  const match = idPattern.exec(id);
  assert(id.length === 33 && match !== null, `id ${JSON.stringify(id)} is malformed`);
  return toLogicalShard(Number.parseInt(match[3]!, 16));
}

export function randomLogicalShard(): LogicalShard {
  return (takeRandom(1)[0]! % logicalShardCount) as LogicalShard;
}
