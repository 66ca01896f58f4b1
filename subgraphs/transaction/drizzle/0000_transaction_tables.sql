CREATE TABLE `external_transfers` (
	`id` varchar(33) NOT NULL,
	`kind` enum('DEPOSIT','WITHDRAWAL') NOT NULL,
	`account_id` varchar(33) NOT NULL,
	`amount` bigint NOT NULL,
	`currency` char(3) NOT NULL,
	`status` enum('PROCESSING','SUCCEEDED','FAILED') NOT NULL,
	`external_ref` varchar(128),
	`created_by` varchar(64) NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `external_transfers_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`caller_id` varchar(64) NOT NULL,
	`idempotency_key` varchar(128) NOT NULL,
	`operation` varchar(24) NOT NULL,
	`request_hash` char(64) NOT NULL,
	`resource_id` varchar(33) NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `idempotency_keys_caller_id_idempotency_key_pk` PRIMARY KEY(`caller_id`,`idempotency_key`)
);
--> statement-breakpoint
CREATE TABLE `payments` (
	`id` varchar(33) NOT NULL,
	`payer_account_id` varchar(33) NOT NULL,
	`payee_account_id` varchar(33) NOT NULL,
	`credit_account_id` varchar(33) NOT NULL,
	`route` enum('SAME_SHARD','MERCHANT_STRIPE','CROSS_SHARD') NOT NULL,
	`amount` bigint NOT NULL,
	`currency` char(3) NOT NULL,
	`refunded_amount` bigint NOT NULL DEFAULT 0,
	`status` enum('PROCESSING','SUCCEEDED','FAILED') NOT NULL,
	`failure_code` varchar(40),
	`description` varchar(500),
	`created_by` varchar(64) NOT NULL,
	`device_id` varchar(128),
	`client_ip` varchar(64),
	`user_agent` varchar(256),
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	`completed_at` datetime(6),
	CONSTRAINT `payments_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `refunds` (
	`id` varchar(33) NOT NULL,
	`payment_id` varchar(33) NOT NULL,
	`amount` bigint NOT NULL,
	`currency` char(3) NOT NULL,
	`status` enum('PROCESSING','SUCCEEDED','FAILED') NOT NULL,
	`failure_code` varchar(40),
	`reason` varchar(500),
	`created_by` varchar(64) NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	`completed_at` datetime(6),
	CONSTRAINT `refunds_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `transfer_outbox` (
	`id` varchar(33) NOT NULL,
	`step` enum('PAYMENT_CREDIT','REFUND_DEBIT') NOT NULL,
	`status` enum('PENDING','DONE') NOT NULL,
	`attempts` int NOT NULL DEFAULT 0,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	`next_attempt_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `transfer_outbox_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE INDEX `external_transfers_account_idx` ON `external_transfers` (`account_id`,`id`);--> statement-breakpoint
CREATE INDEX `external_transfers_ref_idx` ON `external_transfers` (`external_ref`);--> statement-breakpoint
CREATE INDEX `idempotency_keys_created_idx` ON `idempotency_keys` (`created_at`);--> statement-breakpoint
CREATE INDEX `payments_payer_idx` ON `payments` (`payer_account_id`,`id`);--> statement-breakpoint
CREATE INDEX `payments_payee_idx` ON `payments` (`payee_account_id`,`id`);--> statement-breakpoint
CREATE INDEX `refunds_payment_idx` ON `refunds` (`payment_id`,`id`);--> statement-breakpoint
CREATE INDEX `transfer_outbox_due_idx` ON `transfer_outbox` (`status`,`next_attempt_at`);