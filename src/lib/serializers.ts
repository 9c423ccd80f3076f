// Owns how response schemas become serializers: fastify's own compiler
// (fast-json-stringify), with each schema's serializer kept for the process.
// A deployment builds one app, so nothing changes there; the tests build
// hundreds of apps from the same route schemas, and compiling every
// response schema of every route again took a fifth of building one.
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'

type Factory = ReturnType<typeof SerializerSelector>
type Serializer = ReturnType<ReturnType<Factory>>

const compilerFactory = SerializerSelector()
/** Per set of shared schemas and options, each route schema object's serializer (the output depends on nothing else). */
const byOptions = new Map<string, WeakMap<object, Serializer>>()

/** fastify's `schemaController.compilersFactory.buildSerializer`. */
export const buildSerializer: Factory = (externalSchemas, options) => {
  const compile = compilerFactory(externalSchemas, options)
  const key = JSON.stringify([externalSchemas ?? {}, options ?? {}])
  let cache = byOptions.get(key)
  if (!cache) byOptions.set(key, cache = new WeakMap())
  return (route) => {
    const schema = route.schema
    if (typeof schema !== 'object' || schema === null) return compile(route)
    let serializer = cache.get(schema)
    if (!serializer) cache.set(schema, serializer = compile(route))
    return serializer
  }
}
