CREATE TABLE `owner_shards` (
	`owner_id` varchar(64) NOT NULL,
	`shards` bigint unsigned NOT NULL,
	`updated_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	CONSTRAINT `owner_shards_owner_id` PRIMARY KEY(`owner_id`)
);
