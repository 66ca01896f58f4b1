import { randomBytes } from 'node:crypto';
import { logicalShardCount } from './limits';
import { invariantBroken } from './result';

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
const crockfordCodes = Array.from(crockford, (c) => c.charCodeAt(0));
const hexCodes = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
/** An id's shape, `^([a-z]{3})_([0-9A-HJKMNP-TV-Z]{26})_([0-9a-f]{2})$`, as idShape checks it. */
const idLength = 33;
const underscore = 95;
/** The character codes of a ULID's alphabet (Crockford's base 32: no I, L, O or U). */
const isUlidCode = new Uint8Array(128);
for (const code of crockfordCodes) isUlidCode[code] = 1;
/**
 * An id's characters as codes, filled per id and made a string by one String.fromCharCode: a
 * string built a character at a time was 26 strings an id (newId 3.8 KB of the transaction
 * subgraph's garbage a payment, 405 ns an id; 280-309 now, Node 24). Synchronous fills only: no
 * id is half-written across an await.
 */
const codes = new Array<number>(idLength);

/** A ULID's first ten characters into `codes` from `at`: the millisecond it was minted, so that ULIDs sort by time. */
function fillUlidTime(at: number, nowMs: number): void {
  let t = nowMs;
  for (let i = at + 9; i >= at; i--) {
    codes[i] = crockfordCodes[t % 32]!;
    t = Math.floor(t / 32);
  }
}

/** A ULID's 26 characters into `codes` from `at`: ten of time, then 16 random. */
function fillUlid(at: number, nowMs: number): void {
  fillUlidTime(at, nowMs);
  const offset = takeRandom(16);
  for (let i = 0; i < 16; i++) codes[at + 10 + i] = crockfordCodes[randomPool[offset + i]! % 32]!;
}

export function ulid(nowMs: number = Date.now()): string {
  fillUlid(0, nowMs);
  return String.fromCharCode(...codes.slice(0, 26));
}

export function newId(kind: IdKind, shard: LogicalShard): string {
  const prefix = idKinds[kind];
  for (let i = 0; i < 3; i++) codes[i] = prefix.charCodeAt(i);
  codes[3] = underscore;
  fillUlid(4, Date.now());
  codes[30] = underscore;
  codes[31] = hexCodes[shard >> 4]!;
  codes[32] = hexCodes[shard & 15]!;
  return String.fromCharCode(...codes);
}

/**
 * A bound on ids of a kind by age: every id of the kind minted before `at` sorts below it (as a
 * string), every one minted at or after it above, since an id's ULID time comes first.
 */
export function idsMintedBefore(kind: IdKind, at: Date): string {
  fillUlidTime(0, at.getTime());
  return `${idKinds[kind]}_${String.fromCharCode(...codes.slice(0, 10))}`;
}

/**
 * Random bytes from a pool refilled randomPoolBytes at a time: one getrandom call for 256 ids
 * instead of one per id (a posting mints several ids, and the call was 6% of the transaction
 * subgraph's CPU). The bytes are still the CSPRNG's, each handed out once.
 */
const randomPoolBytes = 4096;
let randomPool = randomBytes(randomPoolBytes);
let randomOffset = 0;

/** The offset in randomPool of `count` bytes not handed out before (no view made per call). */
function takeRandom(count: number): number {
  if (randomOffset + count > randomPoolBytes) {
    randomPool = randomBytes(randomPoolBytes);
    randomOffset = 0;
  }
  const offset = randomOffset;
  randomOffset += count;
  return offset;
}

export function toLogicalShard(value: number): LogicalShard {
  if (!Number.isInteger(value) || value < 0 || value >= logicalShardCount) {
    throw new RangeError(`logical shard ${value} is outside 0..${logicalShardCount - 1}`);
  }
  return value as LogicalShard;
}

/** The last two characters of an id of the logical shard: its number in hex, what SQL reads with RIGHT(id, 2). */
export function idSuffix(shard: number): string {
  return shard.toString(16).padStart(2, '0');
}

/** A lowercase hex digit's value; -1 for any other code. */
function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/**
 * Whether `id` has an id's shape (the pattern above), by its character codes: a regular
 * expression's match array and three substrings an id were 3.5 KB of the transaction subgraph's
 * garbage a payment and parseId 0.8% of its CPU, 150 ns a parse (56 now, Node 24). ids.test.ts
 * holds the two to the same answers.
 */
function idShape(id: string): boolean {
  if (id.length !== idLength || id.charCodeAt(3) !== underscore || id.charCodeAt(30) !== underscore) return false;
  for (let i = 0; i < 3; i++) {
    const code = id.charCodeAt(i);
    if (code < 97 || code > 122) return false;
  }
  for (let i = 4; i < 30; i++) if (isUlidCode[id.charCodeAt(i)] !== 1) return false;
  return hexValue(id.charCodeAt(31)) >= 0 && hexValue(id.charCodeAt(32)) >= 0;
}

/** The logical shard number an id of the right shape ends in (its last two characters, hex). */
function shardDigits(id: string): number {
  return hexValue(id.charCodeAt(31)) * 16 + hexValue(id.charCodeAt(32));
}

/** Parses an id of the expected kind; null for anything malformed, never a guess. */
export function parseId(kind: IdKind, id: string): { id: string; shard: LogicalShard } | null {
  if (!idShape(id) || !id.startsWith(idKinds[kind])) return null;
  const shard = shardDigits(id);
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
  if (parsed === null) invariantBroken(`${kind} id ${JSON.stringify(id)} is malformed`);
  return parsed.shard;
}

/**
 * The logical shard of one of our own ids whatever its kind (an outbox row's id is a payment's, a refund's, a
 * sweep's…): its last two characters, as placement reads them (RIGHT(id, 2)). Malformed is a bug, as in shardOf.
 */
export function shardOfAnyId(id: string): LogicalShard {
  if (!idShape(id)) invariantBroken(`id ${JSON.stringify(id)} is malformed`);
  return toLogicalShard(shardDigits(id));
}

export function randomLogicalShard(): LogicalShard {
  return (randomPool[takeRandom(1)]! % logicalShardCount) as LogicalShard;
}
