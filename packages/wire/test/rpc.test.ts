import t from 'tap'
import { BadRequestError, CapacityError, ErrorCode } from '@mvm/core'
import { CONTROL_PROTOCOL, controlChannel, createRpcPeer, expectBody, type RpcPeer } from '@mvm/wire'
import { dial, inbound, nodePair } from './fixtures.js'

t.test('request/response over one long-lived control stream', async (t) => {
  const { a, b } = await nodePair(t)
  const streams = inbound(b, CONTROL_PROTOCOL)
  const client = createRpcPeer(controlChannel(await dial(a, b, CONTROL_PROTOCOL)))
  const server = createRpcPeer(controlChannel(await streams.next()))
  const notes: string[] = []
  server.onRequest(async (body, ctx) => {
    if (body.type === 'awaken') return { type: 'instantiateAck', jobId: body.jobId, ranks: [ctx.id % 7] }
    if (body.type === 'join') throw new CapacityError(`group ${body.group} is full`, { data: { max: 3 } })
    if (body.type === 'leave') { notes.push(body.reason); return undefined }
    if (body.type === 'terminate') return undefined
    throw new BadRequestError(`unexpected ${body.type}`)
  })

  t.test('500 requests in flight on one stream', async (t) => {
    const replies = await Promise.all(Array.from({ length: 500 }, async (_, i) =>
      expectBody(await client.request({ type: 'awaken', jobId: `job-${i}` }, { timeoutMs: 20_000 }), 'instantiateAck')))
    t.same(replies.map((r) => r.jobId), Array.from({ length: 500 }, (_, i) => `job-${i}`))
    t.equal(client.pending, 0)
  })

  t.test('500 sequential round trips (the missed-reply hazard)', async (t) => {
    let ok = 0
    for (let i = 0; i < 500; i++) {
      const r = await client.request({ type: 'terminate', jobId: `j${i}` }, { timeoutMs: 10_000 })
      if (r.type === 'ack') ok++
    }
    t.equal(ok, 500)
  })

  t.test('a thrown MvmError comes back as the same class', async (t) => {
    const err = await client.request({ type: 'join', group: 'g1' }).catch((e: unknown) => e)
    t.type(err, CapacityError)
    t.match(err, { code: ErrorCode.CAPACITY, message: 'group g1 is full', data: { max: 3 }, retryable: true })
  })

  t.test('notify gets no reply; the handler sees it', async (t) => {
    await client.notify({ type: 'leave', reason: 'bye' })
    await client.request({ type: 'terminate', jobId: 'after-notify' })
    t.same(notes, ['bye'])
  })

  t.test('a bad outgoing body rejects locally and the channel stays open', async (t) => {
    await t.rejects(client.request({ type: 'awaken', jobId: '' }), { code: ErrorCode.BAD_REQUEST })
    t.equal((await client.request({ type: 'terminate', jobId: 'still-open' })).type, 'ack')
  })

  t.test('close: both sides finish cleanly, pending requests fail typed', async (t) => {
    const slow = createRpcPeer(controlChannel(await dial(a, b, CONTROL_PROTOCOL)))
    const srv: RpcPeer = createRpcPeer(controlChannel(await streams.next()))
    srv.onRequest(async () => await new Promise(() => {}))
    const p = t.rejects(slow.request({ type: 'awaken', jobId: 'never' }, { timeoutMs: 60_000 }), { code: ErrorCode.UNAVAILABLE })
    await srv.close()
    await p
    t.equal(await slow.closed, undefined)
    t.equal(await srv.closed, undefined)
  })

  t.test('reply-then-close at once is never missed (100 fresh streams)', async (t) => {
    let got = 0
    for (let i = 0; i < 100; i++) {
      const c = createRpcPeer(controlChannel(await dial(a, b, CONTROL_PROTOCOL)))
      const srv = controlChannel(await streams.next())
      const served = (async () => {
        for await (const env of srv) {
          await srv.send({ replyTo: env.id, body: { type: 'terminate', jobId: `r${i}` } })
          await srv.close() // the close follows the reply immediately: the hazard case
          break
        }
      })()
      const r = await c.request({ type: 'awaken', jobId: `q${i}` }, { timeoutMs: 10_000 })
      if (r.type === 'terminate' && r.jobId === `r${i}`) got++
      await served
      await c.closed
    }
    t.equal(got, 100)
  })

  t.test('timeout rejects with TimeoutError', async (t) => {
    const c = createRpcPeer(controlChannel(await dial(a, b, CONTROL_PROTOCOL)))
    const s = createRpcPeer(controlChannel(await streams.next()))
    s.onRequest(async () => await new Promise(() => {}))
    await t.rejects(c.request({ type: 'awaken', jobId: 'x' }, { timeoutMs: 200 }), { code: ErrorCode.TIMEOUT })
    c.channel.abort(new Error('done'))
  })
})

t.test('requests sent just before the remote half-closes are still answered', async (t) => {
  const { a, b } = await nodePair(t)
  const streams = inbound(b, CONTROL_PROTOCOL)
  const tx = controlChannel(await dial(a, b, CONTROL_PROTOCOL))
  const server = createRpcPeer(controlChannel(await streams.next()))
  server.onRequest(async (body) => {
    await new Promise((resolve) => setTimeout(resolve, 20))
    return body.type === 'awaken' ? { type: 'instantiateAck', jobId: body.jobId } : undefined
  })
  for (let i = 1; i <= 20; i++) await tx.send({ id: i, body: { type: 'awaken', jobId: `h${i}` } })
  await tx.close()
  const replies: number[] = []
  for await (const env of tx) replies.push(env.replyTo)
  t.same(replies.sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 1))
  t.equal(await tx.closed, undefined)
  t.equal(await server.closed, undefined)
})
