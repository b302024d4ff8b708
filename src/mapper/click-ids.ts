// Traffic sources from ad, social and email click ids, as Swetrix fills them in for live events
// (backend `analytics/utils/clickIdSources.ts`, read at commit c5f4c86): a click-id parameter in the
// query fills `so`, `me` and `ref` where they are empty; UTM values already there win. The CLI
// applies the same table itself, so imported rows (which have no query column) and live events
// store the same source, medium and referrer, and the query itself need not be sent.
export interface ClickIdSource {
  /** The click-id parameter (lower case). */
  param: string
  so: string
  me: string
  ref: string
}

const entry = (param: string, so: string, me: string, ref: string): ClickIdSource => Object.freeze({ param, so, me, ref })

/** In Swetrix's order of precedence: paid networks before social and email, so the first one
 *  present wins when a URL carries several. */
export const CLICK_ID_SOURCES: readonly ClickIdSource[] = Object.freeze([
  entry('gclid', 'google', 'cpc', 'https://google.com'),
  entry('gbraid', 'google', 'cpc', 'https://google.com'),
  entry('wbraid', 'google', 'cpc', 'https://google.com'),
  entry('dclid', 'google', 'display', 'https://google.com'),
  entry('msclkid', 'bing', 'cpc', 'https://bing.com'),
  entry('yclid', 'yandex', 'cpc', 'https://yandex.com'),
  entry('s_kwcid', 'adobe', 'cpc', 'https://adobe.com'),
  entry('fbclid', 'facebook', 'social', 'https://facebook.com'),
  entry('ttclid', 'tiktok', 'social', 'https://tiktok.com'),
  entry('twclid', 'x', 'social', 'https://x.com'),
  entry('li_fat_id', 'linkedin', 'social', 'https://linkedin.com'),
  entry('epik', 'pinterest', 'social', 'https://pinterest.com'),
  entry('rdt_cid', 'reddit', 'social', 'https://reddit.com'),
  entry('igshid', 'instagram', 'social', 'https://instagram.com'),
  entry('scclid', 'snapchat', 'social', 'https://snapchat.com'),
  entry('mc_cid', 'mailchimp', 'email', 'https://mailchimp.com'),
  entry('mc_eid', 'mailchimp', 'email', 'https://mailchimp.com'),
  entry('_hsenc', 'hubspot', 'email', 'https://hubspot.com'),
  entry('_hsmi', 'hubspot', 'email', 'https://hubspot.com'),
  entry('irclid', 'impact', 'affiliate', 'https://impact.com'),
  entry('sscid', 'shareasale', 'affiliate', 'https://shareasale.com'),
])

const NEEDLES = CLICK_ID_SOURCES.map((s) => `&${s.param}=`)
/** Any of the parameters, anywhere: most queries have none, and one regex test rules them out. */
const ANY = new RegExp(`(?:^|&)(?:${CLICK_ID_SOURCES.map((s) => s.param).join('|')})=`, 'i')

/** The click id a query string (text after `?`) carries, read as Swetrix reads it: one leading
 *  `?` and anything from `#` on are ignored; a parameter counts when `name=` (any case, any
 *  value, even empty) starts the query or follows an `&`. */
export function clickIdSource(query: string): ClickIdSource | null {
  if (query.indexOf('=') < 0) return null
  let search = query.charCodeAt(0) === 0x3f ? query.slice(1) : query
  const hash = search.indexOf('#')
  if (hash >= 0) search = search.slice(0, hash)
  if (search === '' || !ANY.test(search)) return null
  const lower = `&${search.toLowerCase()}`
  for (let i = 0; i < NEEDLES.length; i++) if (lower.includes(NEEDLES[i]!)) return CLICK_ID_SOURCES[i]!
  return null
}

/** Fills the empty ones of `so`, `me` and `ref` in `body` from the query's click id. */
export function addClickIdSource(body: Record<string, unknown>, query: string): void {
  const source = clickIdSource(query)
  if (source === null) return
  if (!body.so) body.so = source.so
  if (!body.me) body.me = source.me
  if (!body.ref) body.ref = source.ref
}
