import * as z from 'zod';
import { variablesOf, type Variable } from '../../subgraphs/shared/src/config/env';
import { shardPoolSize, shardsConfig } from '../../subgraphs/shared/src/config/shared';
import { testRunConfig } from '../../test/support/run-config';
import { mysqlServerConfig, processConfigs, startConfig } from './config';

/**
 * README's configuration table: every variable of every process's schema and of the scripts',
 * each once, where MySQL is first, then each process's own in turn (test/configuration.test.ts
 * holds README to it).
 */
export function configurationVariables(): Variable[] {
  const mysql = z.object({ shards: shardsConfig, mysqlServer: mysqlServerConfig, shardPoolSize });
  return variablesOf(mysql, ...Object.values(processConfigs), startConfig, testRunConfig);
}
