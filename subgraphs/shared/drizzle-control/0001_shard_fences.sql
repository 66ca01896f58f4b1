CREATE TABLE `shard_fences` (
	`logical_shard` int NOT NULL,
	`reason` varchar(16) NOT NULL,
	`since` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `shard_fences_logical_shard` PRIMARY KEY(`logical_shard`)
);
