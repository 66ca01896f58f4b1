import { randomBytes } from 'node:crypto';
import { subgraphSecretVariable } from '../../subgraphs/shared/src/gateway-trust';
import { subgraphNames, type SubgraphName as TrustedSubgraph } from './parts';

/** Bytes of randomness in each generated subgraph secret. */
const generatedSubgraphSecretBytes = 32;

/**
 * SUBGRAPH_SECRET_* for a run of processes this script starts and stops itself (benchmarks):
 * fresh every time, since nothing outside the run needs them.
 */
export function generateSubgraphSecrets(): Record<TrustedSubgraph, string> {
  const secrets = {} as Record<TrustedSubgraph, string>;
  for (const name of subgraphNames) secrets[name] = randomBytes(generatedSubgraphSecretBytes).toString('base64url');
  return secrets;
}

/** The gateway's environment: every subgraph's secret. */
export function gatewaySecretEnv(secrets: Record<TrustedSubgraph, string>): Record<string, string> {
  return Object.fromEntries(subgraphNames.map((name) => [subgraphSecretVariable(name), secrets[name]]));
}

/** One subgraph's environment: its own secret and no other. */
export function subgraphSecretEnv(
  secrets: Record<TrustedSubgraph, string>,
  name: TrustedSubgraph,
): Record<string, string> {
  return { [subgraphSecretVariable(name)]: secrets[name] };
}
