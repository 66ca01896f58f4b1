CREATE TABLE `external_account_claims` (
	`identity_key` varchar(128) NOT NULL,
	`owner_id` varchar(64) NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `external_account_claims_identity_key` PRIMARY KEY(`identity_key`)
);
--> statement-breakpoint
CREATE TABLE `external_accounts` (
	`id` varchar(33) NOT NULL,
	`owner_id` varchar(64) NOT NULL,
	`kind` enum('BANK_ACCOUNT','CARD','WALLET') NOT NULL,
	`channel` varchar(64) NOT NULL,
	`currency` varchar(8) NOT NULL,
	`identity_key` varchar(128) NOT NULL,
	`display` varchar(80) NOT NULL,
	`holder_name` varchar(140),
	`channel_token` varchar(80),
	`status` enum('PENDING','VERIFIED','REJECTED','UNLINKED') NOT NULL,
	`decided_by` varchar(64),
	`decided_at` datetime(6),
	`reported_balance` bigint,
	`reported_as_of` datetime(6),
	`created_by` varchar(64) NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `external_accounts_id` PRIMARY KEY(`id`),
	CONSTRAINT `external_accounts_identity_uq` UNIQUE(`owner_id`,`kind`,`channel`,`identity_key`,`currency`)
);
--> statement-breakpoint
ALTER TABLE `external_transfers` ADD `external_account_id` varchar(33);--> statement-breakpoint
CREATE INDEX `external_accounts_owner_idx` ON `external_accounts` (`owner_id`,`id`);