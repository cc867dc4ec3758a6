import t from 'tap'
import { errorFromJSON, ValidationError, NotAdmittedError, MvmError, ErrorCode, toMvmError, createRegistry, UnknownComponentError, sleep, AbortError, TimeoutError } from '@mvm/core'

t.test('errors survive a round trip through JSON as the same class', async t => {
  const e = new NotAdmittedError('peer X is not admitted', { data: { peer: 'X' } })
  const back = errorFromJSON(JSON.parse(JSON.stringify(e)))
  t.ok(back instanceof NotAdmittedError)
  t.equal(back.code, ErrorCode.NOT_ADMITTED)
  t.same(back.data, { peer: 'X' })
  const v = new ValidationError([{ file: 'a.yaml', line: 3, column: 5, path: 'spec.size', message: 'expected a number' }])
  const vb = errorFromJSON(JSON.parse(JSON.stringify(v)))
  t.ok(vb instanceof ValidationError)
  t.equal((vb as ValidationError).issues[0]?.line, 3)
  t.equal(v.message, 'a.yaml:3:5: spec.size: expected a number')
  const unknown = errorFromJSON({ code: 'E_SOMETHING_NEW', message: 'x' })
  t.equal(unknown.code, ErrorCode.INTERNAL)
  t.ok(toMvmError(new Error('plain')) instanceof MvmError)
})

t.test('registry resolves by name and spec, and names unknown components', async t => {
  const r = createRegistry<{ n: number }, { n?: number }>('widget')
  r.register('one', (o) => ({ n: o.n ?? 1 }))
  t.equal(r.resolve('one').n, 1)
  t.equal(r.resolve({ type: 'one', options: { n: 5 } }).n, 5)
  t.throws(() => r.resolve('two'), UnknownComponentError)
  t.throws(() => r.register('one', () => ({ n: 2 })), /already registered/)
  t.same(r.names(), ['one'])
})

t.test('sleep honours abort and timeout signals with typed errors', async t => {
  const ac = new AbortController()
  const p = sleep(10_000, ac.signal)
  ac.abort()
  await t.rejects(p, AbortError)
  await t.rejects(sleep(10_000, AbortSignal.timeout(10)), TimeoutError)
})
