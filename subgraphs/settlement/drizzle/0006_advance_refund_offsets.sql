CREATE TABLE `advance_refund_offsets` (
	`refund_id` varchar(33) NOT NULL,
	`stripe_account_id` varchar(33) NOT NULL,
	`amount` bigint NOT NULL DEFAULT 0,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `advance_refund_offsets_refund_id_stripe_account_id_pk` PRIMARY KEY(`refund_id`,`stripe_account_id`)
);
--> statement-breakpoint
CREATE INDEX `advance_refund_offsets_stripe_idx` ON `advance_refund_offsets` (`stripe_account_id`);