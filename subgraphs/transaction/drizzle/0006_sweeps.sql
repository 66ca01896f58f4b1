CREATE TABLE `sweeps` (
	`id` varchar(33) NOT NULL,
	`withdrawal_id` varchar(33) NOT NULL,
	`merchant_account_id` varchar(33) NOT NULL,
	`stripe_account_id` varchar(33) NOT NULL,
	`amount` bigint NOT NULL,
	`currency` char(3) NOT NULL,
	`status` enum('PROCESSING','SUCCEEDED','FAILED') NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	`completed_at` datetime(6),
	CONSTRAINT `sweeps_id` PRIMARY KEY(`id`),
	CONSTRAINT `sweeps_withdrawal_stripe_uq` UNIQUE(`withdrawal_id`,`stripe_account_id`)
);
--> statement-breakpoint
ALTER TABLE `transfer_outbox` MODIFY COLUMN `step` enum('PAYMENT_CREDIT','REFUND_DEBIT','SWEEP_CREDIT') NOT NULL;--> statement-breakpoint
CREATE INDEX `sweeps_status_idx` ON `sweeps` (`status`);