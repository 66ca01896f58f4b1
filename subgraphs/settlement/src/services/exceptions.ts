import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { newId } from '@paygraph/shared/ids';
import { idempotencyKeyLengthMax } from '@paygraph/shared/limits';
import { postOne, type PostingSpec, systemAccountId } from '@paygraph/shared/ledger/index';
import { assert, err, ok, type Result } from '@paygraph/shared/result';
import { appendEvents, exceptionsByIds, lockException, setException } from '../db/reconciliation-store';
import type { ExceptionRow } from '../db/schema/settlement';
import type { Resolution } from '../domain/channel-report';
import { exceptionView, type ExceptionView } from './channel-reconcile';
import { controlShard } from './settle';
import type { Forbidden } from '@paygraph/shared/authorization';
import type { SettlementContext } from '../context';
import { mayOperate } from './access';
import { resolutionNoteLengthMax } from '../limits';

export type ResolveRefusal =
  | { kind: 'InvalidInput'; field: string; message: string }
  | { kind: 'ExceptionAlreadyResolved'; exceptionId: string; resolution: Resolution | null; resolvedBy: string | null }
  | { kind: 'BalanceLimit'; accountId: string };

export interface ResolveInput {
  idempotencyKey: string;
  exceptionId: string;
  reason: Resolution;
  note?: string | null;
}

const exceptionIdPattern = /^rex_[0-9a-f]{29}$/;
const keyPattern = /^[\x21-\x7e]+$/;

/** The system account a resolution books the difference to, against the reserve; none for TIMING and BANK_DUPLICATE. */
const bookedTo = { BANK_FEE: 'FEE_EXPENSE', WRITE_OFF: 'LOSS', TIMING: null, BANK_DUPLICATE: null } as const;

/** The posting's dedupe key: one per exception, so no retry, race or second key posts twice. */
export const resolutionDedupeKey = (exceptionId: string) => `reconciliation:${exceptionId}`;

function checkInput(input: ResolveInput): ResolveRefusal | null {
  const key = input.idempotencyKey;
  if (key.length === 0 || key.length > idempotencyKeyLengthMax || !keyPattern.test(key)) {
    return {
      kind: 'InvalidInput',
      field: 'idempotencyKey',
      message: `idempotencyKey must be 1-${idempotencyKeyLengthMax} printable ASCII characters without spaces`,
    };
  }
  if (!exceptionIdPattern.test(input.exceptionId))
    return { kind: 'InvalidInput', field: 'exceptionId', message: `"${input.exceptionId}" is not an exception id` };
  if ((input.note ?? '').length > resolutionNoteLengthMax)
    return {
      kind: 'InvalidInput',
      field: 'note',
      message: `note must be at most ${resolutionNoteLengthMax} characters`,
    };
  return null;
}

/**
 * An open row keeps a key only when its TIMING lapsed (channel-reconcile.ts): the key's resolution is over, and TIMING
 * again, under any key, would claim once more what its window already proved false, the day explained until a run
 * lapsed it again.
 */
function lapsedTimingRefusal(row: ExceptionRow, input: ResolveInput): ResolveRefusal | null {
  if (row.resolutionKey === null || (row.resolutionKey !== input.idempotencyKey && input.reason !== 'TIMING'))
    return null;
  const without = row.kind === 'MISSING_INTERNAL' ? 'a movement matching the line' : 'the money';
  return {
    kind: 'InvalidInput',
    field: row.resolutionKey === input.idempotencyKey ? 'idempotencyKey' : 'reason',
    message: `${row.id} was resolved as TIMING, which lapsed when its window ended without ${without}; resolve it with a new key and another reason`,
  };
}

/**
 * Whether the locked exception may be resolved so: a replay of the same key by the same operator
 * answers what it resolved; any other resolution of a resolved exception is refused, and so is the key of a TIMING
 * that lapsed. A bank fee takes money (a negative difference); a movement still IN_TRANSIT is not a difference yet.
 */
function decide(
  row: ExceptionRow,
  input: ResolveInput,
  actor: string,
  now: Date,
): Result<ExceptionView, ResolveRefusal> | null {
  if (row.status === 'RESOLVED') {
    if (row.resolutionKey === input.idempotencyKey && row.resolvedBy === actor) {
      // A replay is the same request: the same reason and note (the note is the record an auditor reads).
      if (row.resolution !== input.reason)
        return err({
          kind: 'InvalidInput',
          field: 'idempotencyKey',
          message: `idempotencyKey ${input.idempotencyKey} resolved this exception as ${row.resolution}`,
        });
      return row.note === (input.note ?? null)
        ? ok(exceptionView(row, now))
        : err({
            kind: 'InvalidInput',
            field: 'idempotencyKey',
            message: `idempotencyKey ${input.idempotencyKey} resolved this exception with another note`,
          });
    }
    return err({
      kind: 'ExceptionAlreadyResolved',
      exceptionId: row.id,
      resolution: row.resolution,
      resolvedBy: row.resolvedBy,
    });
  }
  const lapsed = lapsedTimingRefusal(row, input);
  if (lapsed) return err(lapsed);
  if (row.kind === 'IN_TRANSIT' && input.reason !== 'TIMING') {
    return err({
      kind: 'InvalidInput',
      field: 'reason',
      message: `${row.id} is IN_TRANSIT (its date window has not ended): not a difference to book; only TIMING resolves it`,
    });
  }
  // Resolutions that post nothing say why the day is right as it stands, so each fits one kind of difference alone.
  if (input.reason === 'BANK_DUPLICATE' && row.kind !== 'MISSING_INTERNAL') {
    return err({
      kind: 'InvalidInput',
      field: 'reason',
      message: `a bank's duplicate is a statement line no movement matches (MISSING_INTERNAL); ${row.id} is ${row.kind}`,
    });
  }
  if (input.reason === 'TIMING' && row.kind === 'AMOUNT_MISMATCH') {
    return err({
      kind: 'InvalidInput',
      field: 'reason',
      message: `${row.id} is on the statement at another amount, not on another date: TIMING does not explain it`,
    });
  }
  if (input.reason === 'BANK_FEE' && row.amount >= 0n) {
    return err({
      kind: 'InvalidInput',
      field: 'reason',
      message: `a bank fee takes money: ${row.id}'s difference is ${row.amount} ${row.currency}, not negative`,
    });
  }
  return null;
}

function resolvedFields(input: ResolveInput, actor: string, now: Date, postingId: string | null) {
  return {
    status: 'RESOLVED' as const,
    resolution: input.reason,
    note: input.note ?? null,
    resolvedBy: actor,
    resolvedAt: now,
    resolutionKey: input.idempotencyKey,
    postingId,
    updatedAt: now,
  };
}

/**
 * Resolves an open exception. TIMING and BANK_DUPLICATE only record why; BANK_FEE and WRITE_OFF
 * also post the difference between the control shard's reserve and its FEE_EXPENSE or LOSS
 * account (balanced; the reserve moves by minus the difference, so that it says what the bank
 * holds), in the same local transaction that marks the exception resolved and links the posting:
 * the exception's row is locked and marked in `prepare`, so of two racing resolutions one posts
 * and the other finds it resolved, and the posting's dedupe key (one per exception) is a second
 * guard. The audit trail records who resolved what.
 */
export async function resolveException(
  shards: ShardSet,
  input: ResolveInput,
  actor: string,
  now: Date,
): Promise<Result<ExceptionView, ResolveRefusal>> {
  const refused = checkInput(input);
  if (refused) return err(refused);
  const control = controlShard(shards);
  const [current] = await exceptionsByIds(control.db, [input.exceptionId]);
  if (!current)
    return err({ kind: 'InvalidInput', field: 'exceptionId', message: `no exception ${input.exceptionId}` });
  const account = bookedTo[input.reason];
  const resolving: Resolving = { current, input, actor, now };
  if (account === null) return resolveWithoutPosting(control, resolving);
  return resolveWithPosting(shards, control, account, resolving);
}

/** One resolution under way: the exception as read before any lock, the request, who resolves it, and when. */
interface Resolving {
  current: ExceptionRow;
  input: ResolveInput;
  actor: string;
  now: Date;
}

/** The system account a posting resolution books to. */
type BookedAccount = NonNullable<(typeof bookedTo)[keyof typeof bookedTo]>;

/** The audit trail's event of a resolution, naming the posting when it made one. */
function resolvedEvent({ current, input, actor, now }: Resolving, postingId: string | null) {
  return {
    exceptionId: current.id,
    event: 'RESOLVED' as const,
    actor,
    at: now,
    detail: `${input.reason}${postingId ? ` posted ${postingId}` : ''}${input.note ? `: ${input.note}` : ''}`,
  };
}

/**
 * TIMING and BANK_DUPLICATE post nothing: the exception is marked resolved under its lock, with its event, in one
 * transaction.
 */
async function resolveWithoutPosting(
  control: Shard,
  resolving: Resolving,
): Promise<Result<ExceptionView, ResolveRefusal>> {
  const { current, input, actor, now } = resolving;
  return inTransaction(control, async (tx) => {
    const row = await lockException(tx, current.id);
    assert(row, `exception ${current.id} vanished`);
    const decided = decide(row, input, actor, now);
    if (decided) return decided;
    await setException(tx, row.id, resolvedFields(input, actor, now, null));
    await appendEvents(tx, [resolvedEvent(resolving, null)]);
    return ok(exceptionView({ ...row, ...resolvedFields(input, actor, now, null) }, now));
  });
}

/**
 * The posting of a BANK_FEE or WRITE_OFF: the difference from the reserve to the booked account, under the exception's
 * dedupe key.
 */
async function resolutionPosting(
  shards: ShardSet,
  control: Shard,
  account: BookedAccount,
  current: ExceptionRow,
): Promise<{ spec: PostingSpec; reserveId: string }> {
  const logical = shards.logicalOn(control)[0];
  assert(logical !== undefined, `shard ${control.name} holds no logical shard`);
  const [reserveId, bookId] = await Promise.all([
    systemAccountId(shards, control, 'RESERVE', current.currency),
    systemAccountId(shards, control, account, current.currency),
  ]);
  const postingId = newId('posting', logical);
  const spec: PostingSpec = {
    id: postingId,
    kind: 'RECONCILIATION',
    refId: current.id,
    dedupeKey: resolutionDedupeKey(current.id),
    currency: current.currency,
    legs: [
      { accountId: reserveId, bucket: 'AVAILABLE', amount: -current.amount },
      { accountId: bookId, bucket: 'AVAILABLE', amount: current.amount },
    ],
  };
  return { spec, reserveId };
}

/**
 * BANK_FEE and WRITE_OFF post the difference: the exception is locked and marked resolved in the
 * posting's prepare, and reopened in its finish when BALANCE_LIMIT refuses the posting.
 */
async function resolveWithPosting(
  shards: ShardSet,
  control: Shard,
  account: BookedAccount,
  resolving: Resolving,
): Promise<Result<ExceptionView, ResolveRefusal>> {
  const { current, input, actor, now } = resolving;
  const { spec, reserveId } = await resolutionPosting(shards, control, account, current);
  const postingId = spec.id;
  let locked: ExceptionRow | undefined;
  return postOne<Result<ExceptionView, ResolveRefusal>>(
    control,
    {
      kind: 'prepare',
      prepare: async (tx) => {
        locked = await lockException(tx, current.id);
        assert(locked, `exception ${current.id} vanished`);
        const decided = decide(locked, input, actor, now);
        if (decided) return { proceed: false, result: decided };
        // Marked here, not in finish: a later item of the same batch resolving it must see it resolved.
        await setException(tx, current.id, resolvedFields(input, actor, now, postingId));
        return { proceed: true, spec };
      },
      finish: async (tx, outcome) => {
        if (outcome.status === 'REJECTED') {
          await setException(tx, current.id, {
            status: 'OPEN',
            resolution: null,
            note: null,
            resolvedBy: null,
            resolvedAt: null,
            resolutionKey: null,
            postingId: null,
          });
          return err({
            kind: 'BalanceLimit',
            accountId: 'accountId' in outcome.rejection ? outcome.rejection.accountId : reserveId,
          });
        }
        if (outcome.postingId !== postingId) await setException(tx, current.id, { postingId: outcome.postingId });
        await appendEvents(tx, [resolvedEvent(resolving, outcome.postingId)]);
        return ok(exceptionView({ ...locked!, ...resolvedFields(input, actor, now, outcome.postingId) }, now));
      },
      at: now,
    },
    { now: () => now },
  );
}

/**
 * Mutation.resolveException: operators only (services/access.ts): write-offs and bank fees move the platform's money.
 */
export async function resolveExceptionFor(
  ctx: SettlementContext,
  input: ResolveInput,
): Promise<Result<ExceptionView, ResolveRefusal | Forbidden>> {
  const refused = mayOperate(
    ctx.identity,
    "resolve reconciliation exceptions (write-offs and bank fees move the platform's money)",
  );
  if (refused) return err(refused);
  return resolveException(ctx.shards, input, ctx.identity.sub, ctx.now());
}
