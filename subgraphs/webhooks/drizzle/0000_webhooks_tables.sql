CREATE TABLE `webhook_deliveries` (
	`id` varchar(33) NOT NULL,
	`endpoint_id` varchar(33) NOT NULL,
	`stripe_id` varchar(33) NOT NULL,
	`account_id` varchar(33) NOT NULL,
	`sequence` bigint NOT NULL,
	`event_type` varchar(32) NOT NULL,
	`body` text NOT NULL,
	`status` enum('PENDING','SUCCEEDED','FAILED') NOT NULL DEFAULT 'PENDING',
	`attempts` int NOT NULL DEFAULT 0,
	`last_status_code` int,
	`last_error` varchar(255),
	`first_attempt_at` datetime(6),
	`last_attempt_at` datetime(6),
	`next_attempt_at` datetime(6),
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `webhook_deliveries_id` PRIMARY KEY(`id`),
	CONSTRAINT `webhook_deliveries_event_uq` UNIQUE(`endpoint_id`,`stripe_id`,`sequence`,`event_type`)
);
--> statement-breakpoint
CREATE TABLE `webhook_endpoints` (
	`id` varchar(33) NOT NULL,
	`owner_id` varchar(64) NOT NULL,
	`owner_role` varchar(16) NOT NULL,
	`url` varchar(2048) NOT NULL,
	`description` varchar(500),
	`event_types` varchar(255) NOT NULL,
	`account_ids` text,
	`status` enum('ENABLED','DISABLED') NOT NULL DEFAULT 'ENABLED',
	`disabled_reason` varchar(500),
	`secret_sealed` varchar(255) NOT NULL,
	`previous_secret_sealed` varchar(255),
	`previous_secret_until` datetime(6),
	`failing_since` datetime(6),
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	`updated_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `webhook_endpoints_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `webhook_streams` (
	`endpoint_id` varchar(33) NOT NULL,
	`stripe_id` varchar(33) NOT NULL,
	`account_id` varchar(33) NOT NULL,
	`last_sequence` bigint NOT NULL,
	`available` bigint NOT NULL,
	`frozen` bigint NOT NULL,
	`pending` bigint NOT NULL,
	`due_at` datetime(6),
	`lease_until` datetime(6) NOT NULL DEFAULT '1970-01-01 00:00:00',
	`created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `webhook_streams_endpoint_id_stripe_id_pk` PRIMARY KEY(`endpoint_id`,`stripe_id`)
);
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_head_idx` ON `webhook_deliveries` (`endpoint_id`,`stripe_id`,`status`,`sequence`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_endpoint_created_idx` ON `webhook_deliveries` (`endpoint_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_status_idx` ON `webhook_deliveries` (`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `webhook_endpoints_owner_idx` ON `webhook_endpoints` (`owner_id`,`id`);--> statement-breakpoint
CREATE INDEX `webhook_streams_stripe_idx` ON `webhook_streams` (`stripe_id`);--> statement-breakpoint
CREATE INDEX `webhook_streams_due_idx` ON `webhook_streams` (`due_at`);