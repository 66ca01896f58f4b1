import type { Forbidden } from '@paygraph/shared/authorization';
import { businessDateOf } from '@paygraph/shared/business-date';
import { glExportCloseGraceMs } from '@paygraph/shared/limits';
import { err, ok, type Result } from '@paygraph/shared/result';
import {
  controlShard,
  daySums,
  entityByCode,
  glCodesOf,
  insertEntityIfMissing,
  intercompanySums,
  isEntityCode,
  keepExport,
  keptExport,
  platformEntity,
  trialBalanceSums,
  upsertGlCode,
  type EntityRecord,
  type LedgerClass,
} from '@paygraph/shared/ledger/index';
import type { AccountContext } from '../context';
import {
  decideEntity,
  decideGlCode,
  intercompanyPositionOf,
  journalCsv,
  journalOf,
  sameEntity,
  trialBalanceOf,
  type BooksRefusal,
  type IntercompanyLine,
  type JournalLine,
  type TrialBalanceCurrency,
} from '../domain/books';
import { mayKeepBooks } from './access';

/**
 * Legal entities and their books (docs/BOOKS.md): operators only, each operation asking
 * services/access.ts first, then the domain's shapes, then the ledger's sums. Entities, GL codes
 * and kept exports live on the control shard.
 */
export async function createEntity(
  ctx: AccountContext,
  input: EntityRecord,
): Promise<Result<EntityRecord, BooksRefusal | Forbidden>> {
  const refused = mayKeepBooks(ctx.identity, 'create entities');
  if (refused) return err(refused);
  const decided = decideEntity(input);
  if (!decided.ok) return decided;
  const stored = await insertEntityIfMissing(controlShard(ctx.shards).db, decided.value, ctx.now());
  return sameEntity(decided.value, stored);
}

/** The entity an account opens in: PLATFORM when none is named; a named one must exist. */
export async function entityToOpenIn(
  ctx: AccountContext,
  entity: string | null | undefined,
): Promise<Result<string, BooksRefusal>> {
  if (entity === null || entity === undefined || entity === platformEntity) return ok(platformEntity);
  if (!isEntityCode(entity))
    return err({
      kind: 'InvalidInput',
      field: 'entity',
      message: "entity must be 2-16 capital letters, digits or '-'",
    });
  return (await entityByCode(controlShard(ctx.shards).db, entity))
    ? ok(entity)
    : err({ kind: 'EntityNotFound', entity });
}

async function knownEntity(ctx: AccountContext, entity: string): Promise<Result<string, BooksRefusal>> {
  if (!isEntityCode(entity)) return err({ kind: 'EntityNotFound', entity });
  return (await entityByCode(controlShard(ctx.shards).db, entity))
    ? ok(entity)
    : err({ kind: 'EntityNotFound', entity });
}

export async function setGlCode(
  ctx: AccountContext,
  input: { entity: string; ledgerClass: LedgerClass; glCode: string },
): Promise<Result<{ entity: string; ledgerClass: LedgerClass; glCode: string }, BooksRefusal | Forbidden>> {
  const refused = mayKeepBooks(ctx.identity, 'map GL codes');
  if (refused) return err(refused);
  const decided = decideGlCode(input);
  if (!decided.ok) return decided;
  const entity = await knownEntity(ctx, input.entity);
  if (!entity.ok) return entity;
  await upsertGlCode(controlShard(ctx.shards).db, input, ctx.now());
  return ok(input);
}

export async function trialBalance(
  ctx: AccountContext,
  entity: string,
  asOf: string,
): Promise<Result<TrialBalanceCurrency[], BooksRefusal | Forbidden>> {
  const refused = mayKeepBooks(ctx.identity, 'read the books');
  if (refused) return err(refused);
  const known = await knownEntity(ctx, entity);
  if (!known.ok) return known;
  const { sums, accounts } = await trialBalanceSums(ctx.shards, entity, asOf);
  return ok(trialBalanceOf(sums, accounts));
}

export interface Journal {
  lines: JournalLine[];
  csv: string;
}

/**
 * The day's journal. A closed date is answered from the export kept the first time it was asked,
 * so it is the same bytes every time; a date is closed once glExportCloseGraceMs has passed since
 * it ended, not at once: a posting dated by its `at`, taken before it commits, may still be
 * committing to it. Until then, and today, it is computed afresh (it still moves) and kept
 * nowhere; a date not yet begun is refused.
 */
export async function generalLedgerExport(
  ctx: AccountContext,
  entity: string,
  businessDate: string,
): Promise<Result<Journal, BooksRefusal | Forbidden>> {
  const refused = mayKeepBooks(ctx.identity, 'read the books');
  if (refused) return err(refused);
  const known = await knownEntity(ctx, entity);
  if (!known.ok) return known;
  const now = ctx.now();
  const today = businessDateOf(now);
  if (businessDate > today)
    return err({ kind: 'InvalidInput', field: 'businessDate', message: `business date ${businessDate} has not begun` });
  const db = controlShard(ctx.shards).db;
  const closed = businessDate < businessDateOf(new Date(now.getTime() - glExportCloseGraceMs));
  const kept = closed ? await keptExport(db, entity, businessDate) : null;
  if (kept) return ok(journalOfKept(kept));
  const lines = journalOf(await daySums(ctx.shards, entity, businessDate), await glCodesOf(db, entity));
  const csv = journalCsv(entity, businessDate, lines);
  if (!closed) return ok({ lines, csv });
  return ok(
    journalOfKept(await keepExport(db, { entity, businessDate, linesJson: linesJsonOf(lines), csv }, ctx.now())),
  );
}

function linesJsonOf(lines: readonly JournalLine[]): string {
  return JSON.stringify(lines.map((l) => ({ ...l, debit: l.debit.toString(), credit: l.credit.toString() })));
}

function journalOfKept(kept: { linesJson: string; csv: string }): Journal {
  const raw = JSON.parse(kept.linesJson) as Array<
    Omit<JournalLine, 'debit' | 'credit'> & { debit: string; credit: string }
  >;
  return { lines: raw.map((l) => ({ ...l, debit: BigInt(l.debit), credit: BigInt(l.credit) })), csv: kept.csv };
}

export async function intercompanyPosition(
  ctx: AccountContext,
  asOf: string,
): Promise<Result<IntercompanyLine[], Forbidden>> {
  const refused = mayKeepBooks(ctx.identity, 'read the books');
  if (refused) return err(refused);
  return ok(intercompanyPositionOf(await intercompanySums(ctx.shards, asOf)));
}
