import { randomBytes } from 'node:crypto';
import { subgraphSecretVariable, trustedSubgraphs, type TrustedSubgraph } from '../../subgraphs/shared/src/gateway-trust';

/** Bytes of randomness in each generated subgraph secret. */
const generatedSubgraphSecretBytes = 32;

/**
 * SUBGRAPH_SECRET_* for a run of processes this script starts and stops itself (benchmarks):
 * fresh every time, since nothing outside the run needs them.
 */
export function generateSubgraphSecrets(): Record<TrustedSubgraph, string> {
  const secrets = {} as Record<TrustedSubgraph, string>;
  for (const name of trustedSubgraphs) secrets[name] = randomBytes(generatedSubgraphSecretBytes).toString('base64url');
  return secrets;
}

/** The gateway's environment: every subgraph's secret. */
export function gatewaySecretEnv(secrets: Record<TrustedSubgraph, string>): Record<string, string> {
  return Object.fromEntries(trustedSubgraphs.map((name) => [subgraphSecretVariable(name), secrets[name]]));
}

/** One subgraph's environment: its own secret and no other. */
export function subgraphSecretEnv(secrets: Record<TrustedSubgraph, string>, name: TrustedSubgraph): Record<string, string> {
  return { [subgraphSecretVariable(name)]: secrets[name] };
}
