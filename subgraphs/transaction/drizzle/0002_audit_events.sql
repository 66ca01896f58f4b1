CREATE TABLE `audit_events` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`occurred_at` datetime(6) NOT NULL,
	`request_id` char(36) NOT NULL,
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
	CONSTRAINT `audit_events_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE INDEX `audit_events_principal_idx` ON `audit_events` (`principal_sub`,`occurred_at`);--> statement-breakpoint
CREATE INDEX `audit_events_request_idx` ON `audit_events` (`request_id`);--> statement-breakpoint
CREATE INDEX `audit_events_key_idx` ON `audit_events` (`idempotency_key`);--> statement-breakpoint
CREATE INDEX `audit_events_account_idx` ON `audit_events` (`account_id`,`occurred_at`);