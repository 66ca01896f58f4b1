CREATE TABLE `external_account_event_heads` (
	`owner_id` varchar(64) NOT NULL,
	`last_sequence` bigint NOT NULL,
	CONSTRAINT `external_account_event_heads_owner_id` PRIMARY KEY(`owner_id`)
);
--> statement-breakpoint
CREATE TABLE `external_account_events` (
	`owner_id` varchar(64) NOT NULL,
	`sequence` bigint NOT NULL,
	`type` enum('LINKED','VERIFIED','REJECTED','UNLINKED','PAYOUT') NOT NULL,
	`external_account_id` varchar(33) NOT NULL,
	`status` enum('PENDING','VERIFIED','REJECTED','UNLINKED') NOT NULL,
	`withdrawal_id` varchar(33),
	`occurred_at` datetime(6) NOT NULL,
	CONSTRAINT `external_account_events_owner_id_sequence_pk` PRIMARY KEY(`owner_id`,`sequence`),
	CONSTRAINT `external_account_events_withdrawal_uq` UNIQUE(`withdrawal_id`)
);
--> statement-breakpoint
ALTER TABLE `transfer_outbox` MODIFY COLUMN `step` enum('PAYMENT_CREDIT','REFUND_DEBIT','SWEEP_CREDIT','PAYMENT_LEGS','REFUND_LEGS','PAYOUT_EVENT') NOT NULL;