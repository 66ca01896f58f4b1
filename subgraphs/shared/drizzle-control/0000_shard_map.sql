CREATE TABLE `shard_map_acks` (
	`process_id` varchar(96) NOT NULL,
	`version` int NOT NULL,
	`service` varchar(32) NOT NULL,
	`acked_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`seen_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `shard_map_acks_process_id_version_pk` PRIMARY KEY(`process_id`,`version`)
);
--> statement-breakpoint
CREATE TABLE `shard_map_versions` (
	`version` int NOT NULL,
	`placement` text NOT NULL,
	`reason` varchar(64) NOT NULL,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `shard_map_versions_version` PRIMARY KEY(`version`)
);
--> statement-breakpoint
CREATE INDEX `shard_map_acks_seen_idx` ON `shard_map_acks` (`seen_at`);