// Schemas of organisations, API keys and the audit log (contract §7).
import { Type, type Static } from 'typebox'
import { LanguageTag, Page, PageQuery, StringEnum, Text, Timestamp, Uuid } from './common.js'

export const OrganisationKind = StringEnum(['ngo', 'partner'], { title: 'OrganisationKind' })
export const RoleSchema = StringEnum(['admin', 'editor', 'partner'], { title: 'Role' })

const ContactEmail = Type.String({ format: 'email', maxLength: 254, description: 'told when a webhook endpoint is disabled or recovers' })
const OrganisationLanguage = { ...LanguageTag, description: 'language of the mail we send the organisation (webhook notices): en, fr, es, ko or zh-Hans; others get English' }

export const CreateOrganisationSchema = Type.Object({
  name: Text(200, 1),
  kind: OrganisationKind,
  contactEmail: ContactEmail,
  language: Type.Optional({ ...OrganisationLanguage, default: 'en' }),
}, { title: 'CreateOrganisation', additionalProperties: false })
export type CreateOrganisation = Static<typeof CreateOrganisationSchema>

export const ApprovalPolicySchema = StringEnum(['none', 'sensitive', 'all'], {
  title: 'ApprovalPolicy',
  description: 'which of the organisation\'s appeals need a second person\'s approval (`POST /v1/appeals/{id}/approve`) before they are published: `none`, `sensitive` ones (the default; every appeal that counts a child is sensitive) or `all`',
})

export const PatchOrganisationSchema = Type.Object({
  contactEmail: Type.Optional(ContactEmail),
  language: Type.Optional(OrganisationLanguage),
  approvalPolicy: Type.Optional(ApprovalPolicySchema),
}, { title: 'PatchOrganisation', additionalProperties: false, minProperties: 1 })
export type PatchOrganisation = Static<typeof PatchOrganisationSchema>

export const OrganisationSchema = Type.Object({
  id: Uuid, name: Type.String(), kind: OrganisationKind,
  contactEmail: Type.Union([Type.String(), Type.Null()]), language: LanguageTag, approvalPolicy: ApprovalPolicySchema,
  createdAt: Timestamp,
}, { title: 'Organisation' })

export const CreateApiKeySchema = Type.Object({
  organisationId: Uuid,
  role: RoleSchema,
  name: Text(200, 1, { description: 'who or what uses the key' }),
}, { title: 'CreateApiKey', additionalProperties: false })
export type CreateApiKey = Static<typeof CreateApiKeySchema>

export const ApiKeySchema = Type.Object({
  id: Uuid, organisationId: Uuid, role: RoleSchema, name: Type.String(),
  prefix: Type.String({ description: 'the visible start of the key' }),
  createdAt: Timestamp, lastUsedAt: Type.Union([Timestamp, Type.Null()]), revokedAt: Type.Union([Timestamp, Type.Null()]),
}, { title: 'ApiKey' })

export const NewApiKeySchema = Type.Object({
  apiKey: ApiKeySchema,
  key: Type.String({ description: 'the secret key, shown only in this response' }),
}, { title: 'NewApiKey' })

export const AuditEntrySchema = Type.Object({
  id: Type.Integer(), at: Timestamp, organisationId: Type.Union([Uuid, Type.Null()]),
  apiKeyId: Type.Union([Uuid, Type.Null()]),
  personId: Type.Union([Uuid, Type.Null()], { description: 'the person signed in to the console who acted; null for an API key or the CLI' }),
  actorRole: Type.Union([Type.String(), Type.Null()], { description: 'the role that acted; `operator` for the CLI, `service` for entries the service writes itself (e.g. `appeal.deliverability-warning`)' }),
  action: Type.String(), resourceType: Type.String(), resourceId: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(Type.String(), Type.Unknown()),
}, { title: 'AuditEntry' })

export const AuditQuery = Type.Object({
  ...PageQuery,
  resourceType: Type.Optional(Type.String({ pattern: '^[a-z-]{1,40}$' })),
  resourceId: Type.Optional(Text(100)),
  organisationId: Type.Optional(Uuid),
  action: Type.Optional(Type.String({ pattern: '^[a-z.-]{1,60}$' })),
}, { additionalProperties: false })
export type AuditQuery = Static<typeof AuditQuery>

export const ListQuery = Type.Object({ ...PageQuery }, { additionalProperties: false })

export const OrganisationPageSchema = Page(OrganisationSchema, 'OrganisationPage')
export const ApiKeyPageSchema = Page(ApiKeySchema, 'ApiKeyPage')
export const AuditPageSchema = Page(AuditEntrySchema, 'AuditPage')
