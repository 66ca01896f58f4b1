-- A statement is its span (opening_date to business_date): the day's own statement of a month's closing date had the
-- month's key and replaced it. The rows stored before kept no opening date: each reads as one day, its closing date,
-- which is what its id (services/bank-statements.ts bankStatementId) names.
ALTER TABLE `statements` DROP INDEX `statements_channel_account_date_currency_uq`;--> statement-breakpoint
ALTER TABLE `statements` ADD `opening_date` date;--> statement-breakpoint
UPDATE `statements` SET `opening_date` = `business_date`;--> statement-breakpoint
ALTER TABLE `statements` MODIFY COLUMN `opening_date` date NOT NULL;--> statement-breakpoint
ALTER TABLE `statements` ADD CONSTRAINT `statements_channel_account_span_currency_uq` UNIQUE(`channel`,`account`,`business_date`,`opening_date`,`currency`);
