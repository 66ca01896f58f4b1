import { shardOfAnyId } from '@paygraph/shared/ids';
import { log } from '@paygraph/shared/log';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { allEndpoints } from '../db/endpoints';
import {
  accountsAndStripesToFollow,
  accountsOfOwnersToFollow,
  insertStreamsIfMissing,
  streamKeysOf,
  type FollowedRow,
} from '../db/streams';
import type { EndpointRow } from '../db/schema/webhooks';
import type { EventType } from '../domain/event-types';
import { followsEveryAccount, receivesEventsOf } from './access';
import { openSecret } from './secrets';
import { insertStreamsWritable } from './writable-here';
import { SignerCache, signingSeals, type Signing } from './signer';

/**
 * The dispatcher's view of every endpoint (a small table per shard, read every
 * endpointRefreshIntervalMs): status, URL, event types and signing secrets, opened once per
 * seal. A refresh also finds (every discoveryIntervalMs, and at once for a new endpoint) accounts an endpoint should
 * follow and does not yet: a stripe
 * a merchant opened, an account its owner opened — those start at their first entry, so nothing
 * they did after the registration is missed — and any named account whose stream a failed
 * registration left out (from its head).
 */
export interface KnownEndpoint {
  row: EndpointRow;
  eventTypes: ReadonlySet<EventType>;
  /** Null for a disabled endpoint: it never signs again (disabling is final), so its secrets are not opened. */
  signer: Signing | null;
}

export class EndpointDirectory {
  private endpoints = new Map<string, KnownEndpoint>();
  private readonly signers = new SignerCache();
  /** When accounts to follow were last looked for, and for which enabled endpoints. */
  private discoveredAt = Number.NEGATIVE_INFINITY;
  private discoveredFor = new Set<string>();

  constructor(
    private readonly shards: ShardSet,
    private readonly secretKey: Buffer,
    private readonly now: () => Date,
  ) {}

  get(id: string): KnownEndpoint | undefined {
    return this.endpoints.get(id);
  }

  enabledIds(): string[] {
    return [...this.endpoints.values()].filter((e) => e.row.status === 'ENABLED').map((e) => e.row.id);
  }

  /** The enabled endpoints' ids and owners, without copying them into a list. */
  *enabledEndpoints(): Iterable<{ id: string; ownerId: string }> {
    for (const e of this.endpoints.values())
      if (e.row.status === 'ENABLED') yield { id: e.row.id, ownerId: e.row.ownerId };
  }

  anyEnabled(): boolean {
    for (const e of this.endpoints.values()) if (e.row.status === 'ENABLED') return true;
    return false;
  }

  disabled(): KnownEndpoint[] {
    return [...this.endpoints.values()].filter((e) => e.row.status !== 'ENABLED');
  }

  /** What the dispatcher learned before the next refresh (it disabled one, or saw it failing). */
  update(id: string, change: Partial<EndpointRow>): void {
    const known = this.endpoints.get(id);
    if (known) this.endpoints.set(id, { ...known, row: { ...known.row, ...change } });
  }

  /**
   * Rereads every endpoint; looks for accounts to follow when discoveryIntervalMs has passed
   * since the last look or an enabled endpoint is new to it (a registration seen by this refresh).
   */
  async refresh(discoveryIntervalMs = 0): Promise<void> {
    const rows = await Promise.all(
      this.shards.all.map((shard) =>
        allEndpoints(shard.db).catch((error: unknown) => {
          // A shard away keeps its endpoints as last known; the others refresh.
          log().warn({ err: error, shard: shard.name }, 'webhooks: endpoints of a shard could not be read');
          return null;
        }),
      ),
    );
    const next = new Map<string, KnownEndpoint>();
    rows.forEach((shardRows, i) => {
      const database = this.shards.all[i]!.index;
      if (shardRows === null) {
        for (const [id, known] of this.endpoints) if (this.placedOn(id) === database) next.set(id, known);
        return;
      }
      for (const row of shardRows) if (this.placedOn(row.id) === database) next.set(row.id, this.known(row));
    });
    // Kept as last known, a shard away's endpoints keep their signers too.
    for (const known of next.values())
      if (known.signer !== null)
        this.signers.signerOf(known.row.id, signingSeals(known.row, this.now()), (sealed) =>
          openSecret(this.secretKey, known.row.id, sealed),
        );
    this.signers.forgetUnused();
    this.endpoints = next;
    const enabled = this.enabledIds();
    const now = this.now().getTime();
    if (now - this.discoveredAt < discoveryIntervalMs && enabled.every((id) => this.discoveredFor.has(id))) return;
    this.discoveredAt = now;
    this.discoveredFor = new Set(enabled);
    await Promise.all(
      this.shards.all.map((shard) =>
        this.discover(shard).catch((error: unknown) => {
          log().warn({ err: error, shard: shard.name }, 'webhooks: discovering accounts to follow failed');
        }),
      ),
    );
  }

  /**
   * The database the map places an endpoint on, fenced or not (placement.placedOn). A shard move leaves a range's rows
   * on its source as copies until its cleanup, and a target holds an arriving range's copy before the switch: read from
   * every database, the later in the list decided the endpoint, so a copy could enable again one its owner disabled,
   * or sign with the secret a rotation replaced. Not the map's unfenced lists (logicalOn): a fenced range is on
   * neither, and its endpoints would be forgotten for the move's length; nor shards.of, which throws while the map
   * fences the range.
   */
  private placedOn(id: string): number {
    return this.shards.placement.placedOn(shardOfAnyId(id)).index;
  }

  private known(row: EndpointRow): KnownEndpoint {
    // Disabled rows (up to endpointsPerOwnerRowsMax per owner) cost no AES-GCM opening and no cache entry.
    const signer =
      row.status !== 'ENABLED'
        ? null
        : this.signers.signerOf(row.id, signingSeals(row, this.now()), (sealed) =>
            openSecret(this.secretKey, row.id, sealed),
          );
    return { row, eventTypes: new Set(row.eventTypes.split(',') as EventType[]), signer };
  }

  private async discover(shard: Shard): Promise<void> {
    const enabled = [...this.endpoints.values()].filter((e) => e.row.status === 'ENABLED').map((e) => e.row);
    if (enabled.length === 0) return;
    const named = enabled.filter((e) => e.accountIds !== null);
    // What an endpoint naming no accounts follows is what its owner may read (services/access.ts).
    const owned = enabled.filter((e) => e.accountIds === null && !followsEveryAccount(e));
    const everything = enabled.some((e) => e.accountIds === null && followsEveryAccount(e));
    const namedIds = [...new Set(named.flatMap((e) => JSON.parse(e.accountIds!) as string[]))];
    const [existing, namedRows, ownedRows] = await Promise.all([
      streamKeysOf(
        shard.db,
        enabled.map((e) => e.id),
      ),
      accountsAndStripesToFollow(shard.db, namedIds),
      accountsOfOwnersToFollow(shard.db, everything ? null : [...new Set(owned.map((e) => e.ownerId))]),
    ]);
    const have = new Set(existing.map((k) => `${k.endpointId}|${k.stripeId}`));
    const missing: Array<Parameters<typeof insertStreamsIfMissing>[1][number]> = [];
    const want = (endpoint: EndpointRow, row: FollowedRow) => {
      if (have.has(`${endpoint.id}|${row.id}`)) return;
      have.add(`${endpoint.id}|${row.id}`);
      // Opened after the endpoint: everything it ever did is news. Older: from now on.
      const fresh = row.createdAt >= endpoint.createdAt;
      missing.push({
        endpointId: endpoint.id,
        stripeId: row.id,
        accountId: row.parentId ?? row.id,
        lastSequence: fresh ? 0n : row.lastSequence,
        available: fresh ? 0n : row.available,
        frozen: fresh ? 0n : row.frozen,
        pending: fresh ? 0n : row.pending,
      });
    };
    for (const endpoint of named) {
      const ids = new Set(JSON.parse(endpoint.accountIds!) as string[]);
      for (const row of namedRows)
        if (ids.has(row.id) || (row.parentId !== null && ids.has(row.parentId))) want(endpoint, row);
    }
    for (const endpoint of enabled.filter((e) => e.accountIds === null)) {
      for (const row of ownedRows) if (receivesEventsOf(endpoint, row)) want(endpoint, row);
    }
    await insertStreamsWritable(this.shards, shard, missing);
  }
}
