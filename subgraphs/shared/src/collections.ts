/**
 * Grouping in linear time. `map.set(k, [...(map.get(k) ?? []), v])` copies the list on every
 * add: a merged posting batch of 1,000 postings on one account spent 2.5 s in the write path's
 * plan check that way (a 3.5 s event-loop stall, long enough to fail the shard's liveness probe).
 */
export function pushTo<K, V>(
  map: { get(key: K): V[] | undefined; set(key: K, list: V[]): unknown },
  key: K,
  value: V,
): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Numbers in ascending order: Array.prototype.sort's comparator (its default compares them as text). */
export function ascending(a: number, b: number): number {
  return a - b;
}

/** The items by key, each list in the items' order, the keys in order of first appearance. */
export function groupBy<K, V>(items: Iterable<V>, key: (item: V) => K): Map<K, V[]> {
  const groups = new Map<K, V[]>();
  for (const item of items) pushTo(groups, key(item), item);
  return groups;
}
