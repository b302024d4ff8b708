// Preloaded by bench/run.mjs (`node --import`) into a sending `run`: prints, on exit, when its first
// request was written and when its last answer was complete (ms since the epoch, sub-millisecond),
// from undici's diagnostics channels, so the bench can tell start-up and tail from the sending.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { writeSync } from 'node:fs'

const now = () => performance.timeOrigin + performance.now()
let firstRequestAt = 0
let lastAnswerAt = 0

function onFirstRequest() {
  firstRequestAt = now()
  unsubscribe('undici:client:sendHeaders', onFirstRequest)
}
// One clock read per answer; the last one is what counts.
const onAnswer = () => {
  lastAnswerAt = now()
}
subscribe('undici:client:sendHeaders', onFirstRequest)
subscribe('undici:request:trailers', onAnswer)

process.on('exit', () => {
  writeSync(2, `bench-first-request-at=${firstRequestAt.toFixed(3)} bench-last-answer-at=${lastAnswerAt.toFixed(3)}\n`)
})
