CREATE TABLE `statement_channels` (
	`channel` varchar(64) NOT NULL,
	CONSTRAINT `statement_channels_channel` PRIMARY KEY(`channel`)
);
