// One bounded memo for the per-line caches (User-Agents, addresses, hosts, languages, countries):
// a log repeats a few thousand values, and recomputing a forgotten one gives the same result.
// Two generations of Maps (the scheme of hashlru/quick-lru): results go into the recent one; when
// it is full it becomes the old one and the older is dropped; a hit in the old one moves back.
// A hit is one Map lookup, and the most recently used entries are never dropped all at once.
// (quick-lru itself costs ~70 ns more per line on `check`: two lookups and a wrapper per hit.)

/** `fn` remembering its results for at most `maxEntries` keys, the most recently used kept.
 *  `fn` must be pure; a result of `undefined` is not remembered. */
export function boundedMemo<K, V>(fn: (key: K) => V, maxEntries: number): (key: K) => V {
  if (!(maxEntries >= 2)) throw new RangeError(`boundedMemo: maxEntries must be at least 2, got ${maxEntries}`)
  const generation = Math.floor(maxEntries / 2)
  let recent = new Map<K, V>()
  let old = new Map<K, V>()
  return (key) => {
    let value = recent.get(key)
    if (value !== undefined) return value
    value = old.get(key)
    if (value === undefined) value = fn(key)
    else old.delete(key)
    if (value === undefined) return value
    if (recent.size >= generation) {
      old = recent
      recent = new Map()
    }
    recent.set(key, value)
    return value
  }
}
