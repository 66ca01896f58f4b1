CREATE TABLE `campaigns` (
	`id` varchar(33) NOT NULL,
	`funding_account_id` varchar(33) NOT NULL,
	`currency` char(3) NOT NULL,
	`percent_off_bps` int,
	`amount_off` bigint,
	`max_discount_per_payment` bigint,
	`payee_account_ids` varchar(4000),
	`ends_at` datetime(6),
	`spent_amount` bigint NOT NULL DEFAULT 0,
	`payments_count` int NOT NULL DEFAULT 0,
	`created_by` varchar(64) NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `campaigns_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `payment_legs` (
	`payment_id` varchar(33) NOT NULL,
	`leg_index` int NOT NULL,
	`role` enum('PAYER','CAMPAIGN','PAYEE','SPLIT') NOT NULL,
	`account_id` varchar(33) NOT NULL,
	`posted_account_id` varchar(33) NOT NULL,
	`bucket` enum('AVAILABLE','PENDING') NOT NULL,
	`amount` bigint NOT NULL,
	`currency` char(3) NOT NULL,
	`refunded_amount` bigint NOT NULL DEFAULT 0,
	`business_date` date NOT NULL DEFAULT '1970-01-01',
	`settlement_id` varchar(33),
	CONSTRAINT `payment_legs_payment_id_leg_index_pk` PRIMARY KEY(`payment_id`,`leg_index`)
);
--> statement-breakpoint
CREATE TABLE `refund_legs` (
	`refund_id` varchar(33) NOT NULL,
	`leg_index` int NOT NULL,
	`amount` bigint NOT NULL,
	`settlement_id` varchar(33),
	CONSTRAINT `refund_legs_refund_id_leg_index_pk` PRIMARY KEY(`refund_id`,`leg_index`)
);
--> statement-breakpoint
ALTER TABLE `payments` MODIFY COLUMN `route` enum('SAME_SHARD','MERCHANT_STRIPE','CROSS_SHARD','LEGS') NOT NULL;--> statement-breakpoint
ALTER TABLE `transfer_outbox` MODIFY COLUMN `step` enum('PAYMENT_CREDIT','REFUND_DEBIT','SWEEP_CREDIT','PAYMENT_LEGS','REFUND_LEGS') NOT NULL;--> statement-breakpoint
ALTER TABLE `payments` ADD `discount_amount` bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `payments` ADD `campaign_id` varchar(33);--> statement-breakpoint
CREATE INDEX `payment_legs_account_idx` ON `payment_legs` (`account_id`,`settlement_id`,`business_date`);