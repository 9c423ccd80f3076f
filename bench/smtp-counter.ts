// A minimal SMTP sink in its own process for benchmarks: accepts every
// message, counts them, and answers `count` requests over IPC. Run by
// bench/email-fanout.ts so the sink's CPU does not share the sender's thread.
import { SMTPServer } from 'smtp-server'

let count = 0
const server = new SMTPServer({
  authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false, closeTimeout: 500,
  onData(stream, _session, callback) {
    stream.on('data', () => {})
    stream.on('end', () => { count++; callback() })
  },
})
server.on('error', () => {})
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.server.address() as { port: number }).port })
})
process.on('message', (message: { type: string }) => {
  if (message.type === 'count') process.send?.({ count })
  if (message.type === 'reset') { count = 0; process.send?.({ count }) }
  if (message.type === 'close') server.close(() => process.exit(0))
})
