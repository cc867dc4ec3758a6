// Forked by the bench: the far end of the child_process.fork IPC baseline. Echoes pings,
// counts streamed data and acknowledges once the announced number of messages arrived.
let expected = 0
let received = 0
process.on('message', (m: { t: string, n?: number }) => {
  if (m.t === 'ping') process.send!(m)
  else if (m.t === 'start') { expected = m.n ?? 0; received = 0 }
  else if (m.t === 'data') {
    if (++received === expected) process.send!({ t: 'ack', n: received })
  }
})
process.on('disconnect', () => { process.exit(0) })
