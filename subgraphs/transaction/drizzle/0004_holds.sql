CREATE TABLE `holds` (
	`id` varchar(33) NOT NULL,
	`payer_account_id` varchar(33) NOT NULL,
	`payee_account_id` varchar(33) NOT NULL,
	`amount` bigint NOT NULL,
	`captured_amount` bigint NOT NULL DEFAULT 0,
	`currency` char(3) NOT NULL,
	`status` enum('HELD','CAPTURED','VOIDED','EXPIRED') NOT NULL,
	`ended_by` varchar(33),
	`description` varchar(500),
	`created_by` varchar(64) NOT NULL,
	`expires_at` datetime(6) NOT NULL,
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	`ended_at` datetime(6),
	CONSTRAINT `holds_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE INDEX `holds_payer_idx` ON `holds` (`payer_account_id`,`id`);--> statement-breakpoint
CREATE INDEX `holds_payee_idx` ON `holds` (`payee_account_id`,`id`);--> statement-breakpoint
CREATE INDEX `holds_due_idx` ON `holds` (`status`,`expires_at`);--> statement-breakpoint
CREATE INDEX `holds_ended_by_idx` ON `holds` (`ended_by`);