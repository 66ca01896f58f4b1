-- Refusals are purged once no replay can need them (ledger/rejections.ts, after the idempotency keys' retention):
-- the purge finds the oldest by their time. Before, posting_rejections was never purged, a row for every refused
-- posting (a caller sending refused payments, each with a new key, grew it without bound).
CREATE INDEX `posting_rejections_created_idx` ON `posting_rejections` (`created_at`);
