CREATE TABLE `advance_outstanding` (
	`stripe_account_id` varchar(33) NOT NULL,
	`merchant_account_id` varchar(33) NOT NULL,
	`outstanding` bigint NOT NULL DEFAULT 0,
	CONSTRAINT `advance_outstanding_stripe_account_id` PRIMARY KEY(`stripe_account_id`)
);
--> statement-breakpoint
CREATE TABLE `advance_pieces` (
	`advance_id` varchar(33) NOT NULL,
	`stripe_account_id` varchar(33) NOT NULL,
	`amount` bigint NOT NULL DEFAULT 0,
	`fee_amount` bigint NOT NULL DEFAULT 0,
	`posting_id` varchar(33) NOT NULL,
	`reversed` boolean NOT NULL DEFAULT false,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `advance_pieces_advance_id_stripe_account_id_pk` PRIMARY KEY(`advance_id`,`stripe_account_id`)
);
--> statement-breakpoint
CREATE TABLE `advance_terms` (
	`merchant_account_id` varchar(33) NOT NULL,
	`currency` char(3) NOT NULL,
	`max_advance_bps` int NOT NULL,
	`fee_bps` int NOT NULL,
	`outstanding_max` bigint NOT NULL DEFAULT 0,
	`updated_by` varchar(64) NOT NULL,
	`updated_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `advance_terms_merchant_account_id` PRIMARY KEY(`merchant_account_id`)
);
--> statement-breakpoint
CREATE TABLE `advances` (
	`id` varchar(33) NOT NULL,
	`merchant_account_id` varchar(33) NOT NULL,
	`currency` char(3) NOT NULL,
	`amount` bigint NOT NULL DEFAULT 0,
	`fee_amount` bigint NOT NULL DEFAULT 0,
	`status` enum('PENDING','PAID','REVERSED') NOT NULL,
	`plan` text NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	`completed_at` datetime(6),
	CONSTRAINT `advances_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
ALTER TABLE `settlement_parts` ADD `advanced_amount` bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `settlements` ADD `advanced_amount` bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `advances_merchant_status_idx` ON `advances` (`merchant_account_id`,`status`);