/**
 * The endpoints a dispatcher's claim must skip (pure): those at their own bound, then every
 * enabled endpoint of an owner at its share. In one pass over each input (Sets, not list
 * searches: with many owners at a share of one slot that is thousands of endpoints per pass),
 * and at most listedMax of them: the list goes into the shard's statements as NOT IN, which
 * stays bounded. Endpoints past it are not skipped by SQL; the dispatcher, which takes a slot
 * before sending, hands their streams back.
 */
export function busyEndpointIds(
  inFlight: ReadonlyMap<string, number>,
  endpointConcurrencyMax: number,
  fullOwners: ReadonlySet<string>,
  enabled: Iterable<{ id: string; ownerId: string }>,
  listedMax: number,
): string[] {
  const busy = new Set<string>();
  // Endpoints at their own bound first: they are few (a process's slots) and always in the list.
  for (const [id, n] of inFlight) {
    if (busy.size >= listedMax) return [...busy];
    if (n >= endpointConcurrencyMax) busy.add(id);
  }
  if (fullOwners.size === 0) return [...busy];
  for (const endpoint of enabled) {
    if (busy.size >= listedMax) break;
    if (fullOwners.has(endpoint.ownerId)) busy.add(endpoint.id);
  }
  return [...busy];
}
