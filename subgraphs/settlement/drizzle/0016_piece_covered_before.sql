-- A piece's reversal keeps as settled what the stripe's settlements covered since the piece posted (services/
-- advance-pieces.ts): each stripe counts what its parts covered, and each piece records that count when it posts.
-- The stripes' counters start at what their parts covered so far. Pieces posted before have no count of their own:
-- they take the count now, so a settlement before this migration counts as before the piece (its reversal takes back
-- what outstanding allows and gives the whole fee back, as it did; never a negative counter).
ALTER TABLE `advance_outstanding` ADD `covered` bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `advance_pieces` ADD `covered_before` bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
UPDATE `advance_outstanding` o SET `covered` = (SELECT COALESCE(SUM(s.`advanced_amount`), 0) FROM `settlement_parts` s WHERE s.`stripe_account_id` = o.`stripe_account_id`);--> statement-breakpoint
UPDATE `advance_pieces` p SET `covered_before` = COALESCE((SELECT o.`covered` FROM `advance_outstanding` o WHERE o.`stripe_account_id` = p.`stripe_account_id`), 0);
