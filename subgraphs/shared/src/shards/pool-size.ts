/**
 * How many connections per shard a process's pool may open: MYSQL_POOL_SIZE when it is set
 * (the same for every process, as the benchmark's knob), otherwise the process's own default,
 * declared by its part (src/part.ts: poolSizeDefault), sized to its work so that the stack fits
 * MySQL's connection limit (README: "Connection budget").
 */
export function subgraphPoolSize(
  part: { readonly name: string; readonly poolSizeDefault: number | null },
  configured: number | null,
): number {
  if (configured !== null) return configured;
  if (part.poolSizeDefault === null) throw new Error(`part ${part.name} declares no pool size of its own`);
  return part.poolSizeDefault;
}
