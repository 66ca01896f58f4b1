ALTER TABLE `sweeps` ADD `bucket` enum('AVAILABLE','PENDING') DEFAULT 'AVAILABLE' NOT NULL;--> statement-breakpoint
ALTER TABLE `sweeps` ADD CONSTRAINT `sweeps_withdrawal_stripe_bucket_uq` UNIQUE(`withdrawal_id`,`stripe_account_id`,`bucket`);--> statement-breakpoint
ALTER TABLE `sweeps` DROP INDEX `sweeps_withdrawal_stripe_uq`;
