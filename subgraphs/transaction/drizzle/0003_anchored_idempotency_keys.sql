-- One statement, so the table never lacks its primary key: the column first, then the key that leads with it.
ALTER TABLE `idempotency_keys` ADD `anchor_id` varchar(33) DEFAULT '' NOT NULL FIRST, DROP PRIMARY KEY, ADD PRIMARY KEY(`anchor_id`,`caller_id`,`idempotency_key`);
