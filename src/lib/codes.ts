// Owns the code lists that validate appeal and subscription filters:
// ISO 3166-1 alpha-2 countries (plus XK, Kosovo, as used by the UN and EU),
// ISO 3166-2 subdivision shape, and BCP 47 language tags known to ICU; and
// the UUID shape of ids in page URLs (checked before any query).

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** An id as the pages' URLs carry it: a UUID, any case. */
export const isUuid = (id: string) => UUID.test(id)

export const COUNTRY_CODES: ReadonlySet<string> = new Set([
  'AD', 'AE', 'AF', 'AG', 'AI', 'AL', 'AM', 'AO', 'AQ', 'AR', 'AS', 'AT', 'AU', 'AW', 'AX', 'AZ', 'BA', 'BB', 'BD', 'BE',
  'BF', 'BG', 'BH', 'BI', 'BJ', 'BL', 'BM', 'BN', 'BO', 'BQ', 'BR', 'BS', 'BT', 'BV', 'BW', 'BY', 'BZ', 'CA', 'CC', 'CD',
  'CF', 'CG', 'CH', 'CI', 'CK', 'CL', 'CM', 'CN', 'CO', 'CR', 'CU', 'CV', 'CW', 'CX', 'CY', 'CZ', 'DE', 'DJ', 'DK', 'DM',
  'DO', 'DZ', 'EC', 'EE', 'EG', 'EH', 'ER', 'ES', 'ET', 'FI', 'FJ', 'FK', 'FM', 'FO', 'FR', 'GA', 'GB', 'GD', 'GE', 'GF',
  'GG', 'GH', 'GI', 'GL', 'GM', 'GN', 'GP', 'GQ', 'GR', 'GS', 'GT', 'GU', 'GW', 'GY', 'HK', 'HM', 'HN', 'HR', 'HT', 'HU',
  'ID', 'IE', 'IL', 'IM', 'IN', 'IO', 'IQ', 'IR', 'IS', 'IT', 'JE', 'JM', 'JO', 'JP', 'KE', 'KG', 'KH', 'KI', 'KM', 'KN',
  'KP', 'KR', 'KW', 'KY', 'KZ', 'LA', 'LB', 'LC', 'LI', 'LK', 'LR', 'LS', 'LT', 'LU', 'LV', 'LY', 'MA', 'MC', 'MD', 'ME',
  'MF', 'MG', 'MH', 'MK', 'ML', 'MM', 'MN', 'MO', 'MP', 'MQ', 'MR', 'MS', 'MT', 'MU', 'MV', 'MW', 'MX', 'MY', 'MZ', 'NA',
  'NC', 'NE', 'NF', 'NG', 'NI', 'NL', 'NO', 'NP', 'NR', 'NU', 'NZ', 'OM', 'PA', 'PE', 'PF', 'PG', 'PH', 'PK', 'PL', 'PM',
  'PN', 'PR', 'PS', 'PT', 'PW', 'PY', 'QA', 'RE', 'RO', 'RS', 'RU', 'RW', 'SA', 'SB', 'SC', 'SD', 'SE', 'SG', 'SH', 'SI',
  'SJ', 'SK', 'SL', 'SM', 'SN', 'SO', 'SR', 'SS', 'ST', 'SV', 'SX', 'SY', 'SZ', 'TC', 'TD', 'TF', 'TG', 'TH', 'TJ', 'TK',
  'TL', 'TM', 'TN', 'TO', 'TR', 'TT', 'TV', 'TW', 'TZ', 'UA', 'UG', 'UM', 'US', 'UY', 'UZ', 'VA', 'VC', 'VE', 'VG', 'VI',
  'VN', 'VU', 'WF', 'WS', 'XK', 'YE', 'YT', 'ZA', 'ZM', 'ZW',
])

const languageNames = new Intl.DisplayNames(['en'], { type: 'language', fallback: 'code' })

/** A well-formed BCP 47 tag whose primary language ICU knows, canonicalised (`zh-hans` → `zh-Hans`). */
export function canonicalLanguage(tag: string): string | null {
  let canonical: string
  try {
    canonical = Intl.getCanonicalLocales(tag)[0] ?? ''
  } catch {
    return null
  }
  const primary = canonical.split('-')[0] ?? ''
  if (!primary || languageNames.of(primary) === primary) return null
  return canonical
}

export const isCountry = (code: string) => COUNTRY_CODES.has(code)

/** ISO 3166-2 shape with a known country part, e.g. `CN-LN`. */
export const isSubdivision = (code: string) =>
  /^[A-Z]{2}-[A-Z0-9]{1,3}$/.test(code) && COUNTRY_CODES.has(code.slice(0, 2))

/**
 * Countries grouped by UN M49 region (Africa 002, Americas 019, Asia 142,
 * Europe 150, Oceania 009), for pickers: ICU names the regions in every
 * language (`Intl.DisplayNames`, type 'region'). Kosovo sits with Europe and
 * Taiwan with Asia; Antarctica, in no M49 region, keeps its own group (AQ).
 */
export const COUNTRY_REGIONS: Readonly<Record<'002' | '019' | '142' | '150' | '009' | 'AQ', readonly string[]>> = {
  '002': [
    'DZ', 'EG', 'EH', 'LY', 'MA', 'SD', 'TN', // Northern Africa
    'BI', 'DJ', 'ER', 'ET', 'IO', 'KE', 'KM', 'MG', 'MU', 'MW', 'MZ', 'RE', 'RW', 'SC', 'SO', 'SS', 'TF', 'TZ', 'UG', 'YT', 'ZM', 'ZW',
    'AO', 'CD', 'CF', 'CG', 'CM', 'GA', 'GQ', 'ST', 'TD',
    'BW', 'LS', 'NA', 'SZ', 'ZA',
    'BF', 'BJ', 'CI', 'CV', 'GH', 'GM', 'GN', 'GW', 'LR', 'ML', 'MR', 'NE', 'NG', 'SH', 'SL', 'SN', 'TG',
  ],
  '019': [
    'AG', 'AI', 'AW', 'BB', 'BL', 'BQ', 'BS', 'CU', 'CW', 'DM', 'DO', 'GD', 'GP', 'HT', 'JM', 'KN', 'KY', 'LC', 'MF', 'MQ', 'MS',
    'PR', 'SX', 'TC', 'TT', 'VC', 'VG', 'VI', // Caribbean
    'BZ', 'CR', 'GT', 'HN', 'MX', 'NI', 'PA', 'SV',
    'AR', 'BO', 'BR', 'BV', 'CL', 'CO', 'EC', 'FK', 'GF', 'GS', 'GY', 'PE', 'PY', 'SR', 'UY', 'VE',
    'BM', 'CA', 'GL', 'PM', 'US',
  ],
  '142': [
    'KG', 'KZ', 'TJ', 'TM', 'UZ', // Central Asia
    'CN', 'HK', 'JP', 'KP', 'KR', 'MN', 'MO', 'TW',
    'BN', 'ID', 'KH', 'LA', 'MM', 'MY', 'PH', 'SG', 'TH', 'TL', 'VN',
    'AF', 'BD', 'BT', 'IN', 'IR', 'LK', 'MV', 'NP', 'PK',
    'AE', 'AM', 'AZ', 'BH', 'CY', 'GE', 'IL', 'IQ', 'JO', 'KW', 'LB', 'OM', 'PS', 'QA', 'SA', 'SY', 'TR', 'YE',
  ],
  '150': [
    'BG', 'BY', 'CZ', 'HU', 'MD', 'PL', 'RO', 'RU', 'SK', 'UA', // Eastern Europe
    'AX', 'DK', 'EE', 'FI', 'FO', 'GB', 'GG', 'IE', 'IM', 'IS', 'JE', 'LT', 'LV', 'NO', 'SE', 'SJ',
    'AD', 'AL', 'BA', 'ES', 'GI', 'GR', 'HR', 'IT', 'ME', 'MK', 'MT', 'PT', 'RS', 'SI', 'SM', 'VA', 'XK',
    'AT', 'BE', 'CH', 'DE', 'FR', 'LI', 'LU', 'MC', 'NL',
  ],
  '009': [
    'AU', 'CC', 'CX', 'HM', 'NF', 'NZ', // Australia and New Zealand
    'FJ', 'NC', 'PG', 'SB', 'VU',
    'FM', 'GU', 'KI', 'MH', 'MP', 'NR', 'PW', 'UM',
    'AS', 'CK', 'NU', 'PF', 'PN', 'TK', 'TO', 'TV', 'WF', 'WS',
  ],
  AQ: ['AQ'],
}
