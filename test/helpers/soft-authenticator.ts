// A software passkey for HTTP-level tests: what a platform authenticator
// answers to WebAuthn registration and authentication (P-256, attestation
// "none", user present and verified), built from the options the console
// sends — so the server's real verification (@simplewebauthn/server) runs.
// The browser tests use Chromium's CDP virtual authenticator instead.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'

const b64url = (bytes: Uint8Array | Buffer) => Buffer.from(bytes).toString('base64url')
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest()

// The little CBOR the attestation object needs: maps, byte and text strings, integers.
type Cbor = number | string | Buffer | Map<number | string, Cbor>
function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n])
  if (n < 256) return Buffer.from([(major << 5) | 24, n])
  const b = Buffer.alloc(3); b[0] = (major << 5) | 25; b.writeUInt16BE(n, 1); return b
}
function cbor(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value)
  if (typeof value === 'string') { const s = Buffer.from(value); return Buffer.concat([head(3, s.length), s]) }
  if (Buffer.isBuffer(value)) return Buffer.concat([head(2, value.length), value])
  return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])])
}

export interface SoftCredential {
  id: Buffer
  privateKey: KeyObject
  userHandle: string
  counter: number
}

export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = []

  constructor(private readonly origin: string, private readonly rpId = new URL(origin).hostname) {}

  private clientData(type: string, challenge: string, origin = this.origin) {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }))
  }

  /** Answers `generateRegistrationOptions`' JSON; `origin` to pose as another site. */
  register(options: { challenge: string; user: { id: string } }, o: { origin?: string } = {}) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const jwk = publicKey.export({ format: 'jwk' })
    const cose = cbor(new Map<number, Cbor>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]))
    const id = randomBytes(32)
    const idLength = Buffer.alloc(2); idLength.writeUInt16BE(id.length)
    // Flags: user present (0x01), user verified (0x04), attested credential data (0x40).
    const authData = Buffer.concat([sha256(this.rpId), Buffer.from([0x45]), Buffer.alloc(4), Buffer.alloc(16), idLength, id, cose])
    const attestationObject = cbor(new Map<string, Cbor>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]))
    this.credentials.push({ id, privateKey, userHandle: options.user.id, counter: 0 })
    return {
      id: b64url(id), rawId: b64url(id), type: 'public-key', clientExtensionResults: {}, authenticatorAttachment: 'platform',
      response: {
        clientDataJSON: b64url(this.clientData('webauthn.create', options.challenge, o.origin)),
        attestationObject: b64url(attestationObject), transports: ['internal'],
      },
    }
  }

  /** Answers `generateAuthenticationOptions`' JSON with `credential` (the last registered by default). */
  authenticate(options: { challenge: string }, o: { credential?: SoftCredential; origin?: string } = {}) {
    const credential = o.credential ?? this.credentials.at(-1)!
    const counter = Buffer.alloc(4) // 0: like most passkeys, it does not count
    const authenticatorData = Buffer.concat([sha256(this.rpId), Buffer.from([0x05]), counter])
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, o.origin)
    const signature = sign('sha256', Buffer.concat([authenticatorData, sha256(clientDataJSON)]), credential.privateKey)
    return {
      id: b64url(credential.id), rawId: b64url(credential.id), type: 'public-key', clientExtensionResults: {}, authenticatorAttachment: 'platform',
      response: {
        clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authenticatorData),
        signature: b64url(signature), userHandle: credential.userHandle,
      },
    }
  }
}
