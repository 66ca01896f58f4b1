/** The variable prefix a part's own variables carry: ACCOUNT for account (ACCOUNT_PORT, ACCOUNT_URL). */
export function variablePrefixOf(name: string): string {
  return name.toUpperCase();
}

/** The variable that holds a subgraph's secret, which only it and the gateway hold (gateway-trust.ts). */
export function subgraphSecretVariable(subgraph: string): string {
  return `SUBGRAPH_SECRET_${variablePrefixOf(subgraph)}`;
}
