// Owns opening endpoints' signing secrets for sending: AES-GCM set-up is
// most of a delivery's crypto, so each endpoint's secrets are opened once per
// process, not once per attempt. An entry is keyed by the endpoint and
// checked against the sealed bytes the claim just read (Buffer.equals, no
// string building per attempt), so a rotation is seen at once.
import { openSecret } from './secret-box.js'

/** Endpoints whose opened secrets are kept; the oldest entry goes first. */
const DEFAULT_SIZE = 10_000

interface Entry { current: Buffer; previous: Buffer | null; secrets: string[] }

export class SecretCache {
  private readonly entries = new Map<string, Entry>()

  constructor(private readonly secretsKey: Buffer, private readonly size = DEFAULT_SIZE) {}

  /**
   * The secrets that sign for `endpointId`, current first; `previous` only
   * while its grace period runs (the caller passes null otherwise). Throws
   * when a secret cannot be opened (SECRETS_KEY changed).
   */
  open(endpointId: string, current: Buffer, previous: Buffer | null): string[] {
    const cached = this.entries.get(endpointId)
    if (cached && cached.current.equals(current)
      && (previous === null ? cached.previous === null : cached.previous !== null && cached.previous.equals(previous))) {
      return cached.secrets
    }
    const secrets = [openSecret(this.secretsKey, endpointId, current)]
    if (previous) secrets.push(openSecret(this.secretsKey, endpointId, previous))
    this.entries.delete(endpointId)
    if (this.entries.size >= this.size) this.entries.delete(this.entries.keys().next().value!)
    this.entries.set(endpointId, { current, previous, secrets })
    return secrets
  }
}
