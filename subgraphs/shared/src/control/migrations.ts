import { fileURLToPath } from 'node:url';
import type { MigrationSet } from '../db/migrate';

/** The control module's tables (the live shard map, store/schema.ts). */
export const controlMigrations: MigrationSet = {
  name: 'control',
  folder: fileURLToPath(new URL('../../drizzle-control', import.meta.url)),
};
