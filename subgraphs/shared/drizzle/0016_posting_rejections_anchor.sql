ALTER TABLE `posting_rejections` ADD `anchor_id` varchar(33) DEFAULT '' NOT NULL;
--> statement-breakpoint
-- A refusal kept before the column is anchored on its key when the key is a movement's id (a first half: a payment's,
-- a deposit's, a withdrawal's, a hold's, a local refund's), on the logical shard its posting was named on; a second
-- half's key (`<payment>:credit`, decided on the payee's logical shard) names no place, and its refusal stays ''.
UPDATE `posting_rejections` SET `anchor_id` = `dedupe_key` WHERE `dedupe_key` NOT LIKE '%:%' AND CHAR_LENGTH(`dedupe_key`) <= 33;
