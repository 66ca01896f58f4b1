-- The gateway owns audit_events from here on. Databases migrated before this already have the
-- table, made by the transaction set's 0002_audit_events and 0005_audit_request_id_client, in
-- exactly this shape; so the table and its indexes are created in one statement that does
-- nothing where the table exists (MySQL 8 has no CREATE INDEX IF NOT EXISTS).
CREATE TABLE IF NOT EXISTS `audit_events` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`occurred_at` datetime(6) NOT NULL,
	`request_id` varchar(64) NOT NULL,
	`principal_sub` varchar(128),
	`principal_role` varchar(16),
	`operation_name` varchar(128),
	`action` varchar(32) NOT NULL,
	`item_index` int NOT NULL,
	`idempotency_key` varchar(128),
	`account_id` varchar(64),
	`counterparty_account_id` varchar(64),
	`payment_id` varchar(64),
	`amount` varchar(40),
	`currency` varchar(8),
	`note` varchar(256),
	`outcome` varchar(64) NOT NULL,
	`error_codes` varchar(255),
	`client_ip` varchar(64),
	`user_agent` varchar(256),
	`device_id` varchar(128),
	CONSTRAINT `audit_events_id` PRIMARY KEY(`id`),
	INDEX `audit_events_principal_idx` (`principal_sub`,`occurred_at`),
	INDEX `audit_events_request_idx` (`request_id`),
	INDEX `audit_events_key_idx` (`idempotency_key`),
	INDEX `audit_events_account_idx` (`account_id`,`occurred_at`)
);
