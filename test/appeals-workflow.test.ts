import t from 'tap'
import { buildTestApp } from './helpers/context.js'
import { liaoningAppeal } from './helpers/liaoning.js'

t.test('the whole staff workflow on the Liaoning case', async (t) => {
  const ctx = await buildTestApp(t)
  const created = await ctx.request('editor', 'POST', '/v1/appeals', liaoningAppeal())
  t.equal(created.statusCode, 201, created.body)
  const appeal = created.json()
  t.equal(appeal.status, 'draft')
  t.equal(appeal.version, 1)
  t.equal(appeal.reference, 'UA 001/19')
  t.equal(created.headers.etag, '"1"')
  t.equal(created.headers.location, `/v1/appeals/${appeal.id}`)
  t.same(appeal.peopleAtRisk, liaoningAppeal().peopleAtRisk)
})
