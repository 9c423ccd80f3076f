// Owns which endpoint URLs may be registered (contract §5): absolute
// `https` (plain `http` only where private networks are allowed), no
// credentials, no fragment, and — unless private networks are allowed —
// a host whose every address is public. The same address rules run again
// at connect time on each delivery (http-client.ts): DNS can change.
import { lookup } from 'node:dns/promises'
import { classifyAddress, isIpLiteral } from './address.js'

const DNS_TIMEOUT_MS = 5000

/** A reason the URL is refused (a message for the `/url` pointer), or null. */
export async function urlProblem(raw: string, allowPrivateNetworks: boolean): Promise<string | null> {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return 'is not a valid absolute URL'
  }
  if (url.protocol !== 'https:' && !(allowPrivateNetworks && url.protocol === 'http:')) {
    return allowPrivateNetworks ? 'must use https or http' : 'must use https'
  }
  if (url.username !== '' || url.password !== '') return 'must not contain credentials (user:password@); authenticate with the signature instead'
  if (url.hash !== '' || raw.includes('#')) return 'must not contain a fragment'
  if (url.hostname === '') return 'has no host'
  if (allowPrivateNetworks) return null
  // WHATWG parsing has already turned 2130706433, 0x7f.1 and 0177.0.0.1 into 127.0.0.1.
  const host = url.hostname.replace(/^\[|\]$/g, '')
  if (isIpLiteral(host)) {
    const reason = classifyAddress(host)
    return reason ? `points at a ${reason} address (${host}), which webhooks may not reach` : null
  }
  let addresses: { address: string }[]
  try {
    addresses = await Promise.race([
      lookup(host, { all: true }),
      new Promise<never>((_, reject) => setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })), DNS_TIMEOUT_MS).unref()),
    ])
  } catch (error) {
    const code = (error as { code?: string }).code
    return code === 'ENOTFOUND' || code === 'EAI_NONAME' ? `host ${host} does not resolve` : `host ${host} could not be resolved (${code ?? 'error'}); try again`
  }
  for (const { address } of addresses) {
    const reason = classifyAddress(address)
    if (reason) return `host ${host} resolves to a ${reason} address (${address}), which webhooks may not reach`
  }
  return null
}
