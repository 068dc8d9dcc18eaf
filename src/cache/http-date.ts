/**
 * HTTP-date parsing (RFC 9110 §5.6.7): the preferred IMF-fixdate and, as recipients must
 * accept them, the obsolete RFC 850 and asctime formats. Nothing else is a date: JavaScript's
 * Date.parse is far more lenient (ISO dates, other time zones), and an Expires the cache reads
 * as valid when the RFC calls it invalid would keep stale content fresh.
 *
 * Case: the formats are case-sensitive, but RFC 9111 §4.2 asks a cache recipient to match
 * them case-insensitively (`THU`, `AUG`, `gmt` are read), and this parser serves the cache.
 */

// Sun, 06 Nov 1994 08:49:37 GMT
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/i
// Sunday, 06-Nov-94 08:49:37 GMT
const RFC850 = /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/i
// Sun Nov  6 08:49:37 1994
const ASCTIME = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i

const MONTHS: Readonly<Record<string, number>> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 }

/** Milliseconds since the epoch, or NaN when `value` is not an HTTP-date. */
export function parseHttpDate(value: string | undefined): number {
  if (value === undefined) return NaN
  const v = value.trim()
  let m = IMF_FIXDATE.exec(v)
  if (m !== null) return utc(Number(m[3]), m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!)
  m = RFC850.exec(v)
  if (m !== null) {
    // §5.6.7: a two-digit year more than 50 years in the future is in the past century.
    const yy = Number(m[3])
    const now = new Date().getUTCFullYear()
    let year = Math.floor(now / 100) * 100 + yy
    if (year > now + 50) year -= 100
    return utc(year, m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!)
  }
  m = ASCTIME.exec(v)
  if (m !== null) return utc(Number(m[6]), m[1]!, Number(m[2]!.trim()), m[3]!, m[4]!, m[5]!)
  return NaN
}

function utc(year: number, month: string, day: number, h: string, mi: string, s: string): number {
  const hour = Number(h)
  const minute = Number(mi)
  const second = Number(s)
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return NaN
  const t = Date.UTC(year, MONTHS[month[0]!.toUpperCase() + month.slice(1).toLowerCase()]!, day, hour, minute, Math.min(second, 59))
  // Reject dates that roll over (31 Feb): the fields must survive the round trip.
  return new Date(t).getUTCDate() === day ? t : NaN
}
