-- A piece's reversal keeps as settled what the stripe's settlements covered since the piece posted (services/
-- advance-pieces.ts): each stripe counts what its parts covered, and each piece records that count when it posts.
-- The stripes' counters start at what their parts covered so far. A piece posted before takes what its stripe's parts
-- had covered before it was made (by their times; a part of the same instant counts as after it, in the platform's
-- favour): a piece stuck PENDING because a settlement covered it (the reversal crashed on it before) keeps that cover
-- as settled. Given the counter now, every piece's count said "nothing settled since", and the whole fee went back.
ALTER TABLE `advance_outstanding` ADD `covered` bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `advance_pieces` ADD `covered_before` bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
UPDATE `advance_outstanding` o SET `covered` = (SELECT COALESCE(SUM(s.`advanced_amount`), 0) FROM `settlement_parts` s WHERE s.`stripe_account_id` = o.`stripe_account_id`);--> statement-breakpoint
UPDATE `advance_pieces` p SET `covered_before` = (SELECT COALESCE(SUM(s.`advanced_amount`), 0) FROM `settlement_parts` s WHERE s.`stripe_account_id` = p.`stripe_account_id` AND s.`created_at` < p.`created_at`);
