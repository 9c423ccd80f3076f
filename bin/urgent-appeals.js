#!/usr/bin/env node
// Runs the built CLI when present (production image); otherwise the
// TypeScript sources through tsx, so `npx urgent-appeals` works in a clone.
// URGENT_APPEALS_FROM_SOURCE=1 forces the sources (tests, when a stale
// dist/ may lie around).
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'

const built = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
if (existsSync(built) && process.env.URGENT_APPEALS_FROM_SOURCE !== '1') {
  await import(pathToFileURL(built).href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import(new URL('../src/cli.ts', import.meta.url).href)
}
