import { definePart } from '@paygraph/shared/part';
import { settlementConfig, settlementPortDefault } from './config';
import { settlementMigrations } from './migrations';

/** The settlement subgraph: merchants' daily settlement, statements and reconciliation. */
export const settlementPart = definePart({
  name: 'settlement',
  kind: 'subgraph',
  config: settlementConfig,
  portDefault: settlementPortDefault,
  /** A worker pass or an operator's request at a time; two, so that a transaction can read beside itself. */
  poolSizeDefault: 2,
  migrations: settlementMigrations,
  workers: ['settlement worker', 'advance worker', 'statement upload purge'],
  reads: ['ledger/read-model/tables', 'transaction/read-model/settlement', 'transaction/write-model/settlement'],
});
