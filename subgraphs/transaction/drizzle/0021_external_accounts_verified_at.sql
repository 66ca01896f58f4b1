ALTER TABLE `external_accounts` ADD `verified_at` datetime(6);
--> statement-breakpoint
UPDATE `external_accounts` SET `verified_at` = `decided_at` WHERE `status` = 'VERIFIED';
--> statement-breakpoint
UPDATE `external_accounts` `a` JOIN (SELECT `external_account_id`, MAX(`occurred_at`) AS `at` FROM `external_account_events` WHERE `type` = 'VERIFIED' GROUP BY `external_account_id`) `v` ON `v`.`external_account_id` = `a`.`id` SET `a`.`verified_at` = `v`.`at` WHERE `a`.`verified_at` IS NULL;
