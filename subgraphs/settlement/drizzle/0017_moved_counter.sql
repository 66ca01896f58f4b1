-- A piece's reversal does not take back what moves of pending out of its stripe added to the stripe's outstanding since
-- the piece posted (services/advance-pieces.ts): that part of outstanding stands against other money (the refund's
-- stripe's), not the piece. Each stripe counts what moves changed its outstanding by (+ out, − what a move in repaid),
-- and each piece records that count when it posts. The counters start at −Σ the stripe's sweep offsets (a move's
-- offset is −amount out, +repaid in, under the sweep's id: `swp_`). A piece posted before takes the moves recorded up
-- to its own instant (a move of the same instant counts as before it, as every move did before this counter).
ALTER TABLE `advance_outstanding` ADD `moved` bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `advance_pieces` ADD `moved_before` bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
UPDATE `advance_outstanding` o SET `moved` = (SELECT COALESCE(-SUM(f.`amount`), 0) FROM `advance_refund_offsets` f WHERE f.`stripe_account_id` = o.`stripe_account_id` AND f.`refund_id` LIKE 'swp\_%');--> statement-breakpoint
UPDATE `advance_pieces` p SET `moved_before` = (SELECT COALESCE(-SUM(f.`amount`), 0) FROM `advance_refund_offsets` f WHERE f.`stripe_account_id` = p.`stripe_account_id` AND f.`refund_id` LIKE 'swp\_%' AND f.`created_at` <= p.`created_at`);
