import { rawRows, rawWrite } from '../../db/raw';
import type { Shard } from '../../shards/pool';

/**
 * The steps of a move, in order (scripts/lib/shard-mover.ts); done and aborted end it. `precopied` is a move's copy
 * while the range still takes writes, caught up from the source's binlog (only where the source writes one).
 */
export const moveSteps = [
  'checked',
  'precopied',
  'fenced',
  'copied',
  'verified',
  'switched',
  'done',
  'aborted',
] as const;
export type MoveStep = (typeof moveSteps)[number];

export interface MoveRow {
  id: number;
  first: number;
  last: number;
  source: string;
  target: string;
  step: MoveStep;
  figures: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

interface StoredMove {
  id: number;
  first_shard: number;
  last_shard: number;
  source: string;
  target: string;
  step: MoveStep;
  figures: string;
  created_at: Date;
  updated_at: Date;
}

function moveOf(row: StoredMove): MoveRow {
  return {
    id: Number(row.id),
    first: Number(row.first_shard),
    last: Number(row.last_shard),
    source: row.source,
    target: row.target,
    step: row.step,
    figures: JSON.parse(row.figures) as Record<string, unknown>,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** The move in progress (neither done nor aborted), if any: at most one, by the unique `active`. */
export async function activeMove(control: Shard): Promise<MoveRow | null> {
  const [row] = await rawRows<StoredMove>(control, 'SELECT * FROM shard_moves WHERE active = 1');
  return row ? moveOf(row) : null;
}

/** The latest move, in progress or not. */
export async function latestMove(control: Shard): Promise<MoveRow | null> {
  const [row] = await rawRows<StoredMove>(control, 'SELECT * FROM shard_moves ORDER BY id DESC LIMIT 1');
  return row ? moveOf(row) : null;
}

/** Moves done whose source has not been cleaned yet (no `cleanedAt` among their figures), oldest first. */
export async function movesToClean(control: Shard): Promise<MoveRow[]> {
  const rows = await rawRows<StoredMove>(
    control,
    "SELECT * FROM shard_moves WHERE step = 'done' AND JSON_VALUE(figures, '$.cleanedAt') IS NULL ORDER BY id",
  );
  return rows.map(moveOf);
}

/** Records a checked move; null when another is in progress (the unique `active` refuses the second). */
export async function startMove(
  control: Shard,
  move: { first: number; last: number; source: string; target: string },
): Promise<number | null> {
  const written = await rawWrite(
    control,
    `INSERT IGNORE INTO shard_moves (first_shard, last_shard, source, target, step, active, figures)
     VALUES (?, ?, ?, ?, 'checked', 1, '{}')`,
    [move.first, move.last, move.source, move.target],
  );
  if (written !== 1) return null;
  return (await activeMove(control))!.id;
}

/** Records a step reached, with its figures merged into the move's; done and aborted end the move. */
export async function recordStep(
  control: Shard,
  id: number,
  step: MoveStep,
  figures: Record<string, unknown>,
): Promise<void> {
  const [row] = await rawRows<{ figures: string }>(control, 'SELECT figures FROM shard_moves WHERE id = ?', [id]);
  const merged = { ...(JSON.parse(row!.figures) as Record<string, unknown>), ...figures };
  const ended = step === 'done' || step === 'aborted';
  await rawWrite(
    control,
    `UPDATE shard_moves SET step = ?, figures = ?, updated_at = CURRENT_TIMESTAMP(3)${ended ? ', active = NULL' : ''}
     WHERE id = ?`,
    [step, JSON.stringify(merged), id],
  );
}
