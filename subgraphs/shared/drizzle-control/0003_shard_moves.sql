CREATE TABLE `shard_moves` (
	`id` int AUTO_INCREMENT NOT NULL,
	`first_shard` int NOT NULL,
	`last_shard` int NOT NULL,
	`source` text NOT NULL,
	`target` text NOT NULL,
	`step` varchar(16) NOT NULL,
	`active` tinyint,
	`figures` text NOT NULL,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `shard_moves_id` PRIMARY KEY(`id`),
	CONSTRAINT `shard_moves_active_unique` UNIQUE(`active`)
);
