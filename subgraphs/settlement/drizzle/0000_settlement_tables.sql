CREATE TABLE `merchant_fee_rates` (
	`merchant_account_id` varchar(33) NOT NULL,
	`fee_bps` int NOT NULL,
	`updated_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `merchant_fee_rates_merchant_account_id` PRIMARY KEY(`merchant_account_id`)
);
--> statement-breakpoint
CREATE TABLE `reconciliation_reports` (
	`id` varchar(40) NOT NULL,
	`business_date` date NOT NULL,
	`balanced` boolean NOT NULL,
	`discrepancies` text NOT NULL,
	`created_by` varchar(64) NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `reconciliation_reports_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `settlement_parts` (
	`settlement_id` varchar(33) NOT NULL,
	`stripe_account_id` varchar(33) NOT NULL,
	`gross_amount` bigint NOT NULL DEFAULT 0,
	`refunded_amount` bigint NOT NULL DEFAULT 0,
	`fee_amount` bigint NOT NULL DEFAULT 0,
	`moved_amount` bigint NOT NULL DEFAULT 0,
	`posting_id` varchar(33),
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `settlement_parts_settlement_id_stripe_account_id_pk` PRIMARY KEY(`settlement_id`,`stripe_account_id`)
);
--> statement-breakpoint
CREATE TABLE `settlements` (
	`id` varchar(33) NOT NULL,
	`merchant_account_id` varchar(33) NOT NULL,
	`business_date` date NOT NULL,
	`currency` char(3) NOT NULL,
	`status` enum('PROCESSING','SETTLED') NOT NULL,
	`fee_bps` int NOT NULL,
	`gross_amount` bigint NOT NULL DEFAULT 0,
	`refunded_amount` bigint NOT NULL DEFAULT 0,
	`fee_amount` bigint NOT NULL DEFAULT 0,
	`net_amount` bigint NOT NULL DEFAULT 0,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	`completed_at` datetime(6),
	CONSTRAINT `settlements_id` PRIMARY KEY(`id`),
	CONSTRAINT `settlements_merchant_date_uq` UNIQUE(`merchant_account_id`,`business_date`)
);
--> statement-breakpoint
CREATE TABLE `statement_lines` (
	`statement_id` varchar(40) NOT NULL,
	`line_number` int NOT NULL,
	`external_ref` varchar(128) NOT NULL,
	`amount` bigint NOT NULL,
	`currency` char(3) NOT NULL,
	`direction` enum('CREDIT','DEBIT') NOT NULL,
	`value_date` date NOT NULL,
	CONSTRAINT `statement_lines_statement_id_line_number_pk` PRIMARY KEY(`statement_id`,`line_number`)
);
--> statement-breakpoint
CREATE TABLE `statements` (
	`id` varchar(40) NOT NULL,
	`channel` varchar(64) NOT NULL,
	`business_date` date NOT NULL,
	`line_count` int NOT NULL,
	`imported_by` varchar(64) NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `statements_id` PRIMARY KEY(`id`),
	CONSTRAINT `statements_channel_date_uq` UNIQUE(`channel`,`business_date`)
);
--> statement-breakpoint
CREATE INDEX `reconciliation_reports_date_idx` ON `reconciliation_reports` (`business_date`,`created_at`);--> statement-breakpoint
CREATE INDEX `statement_lines_ref_idx` ON `statement_lines` (`external_ref`);