// `follow` on Kubernetes' layout: /var/log/containers/*.log are links to
// /var/log/pods/<ns>_<pod>_<uid>/<container>/0.log, CRI lines (partial `P` lines among them, the
// container's stderr interleaved) wrapping an access log. Through kubelet's rotations (0.log ->
// 0.log.<stamp>, the older generation gzipped), a pod deleted and a new one created, and a SIGKILL
// with a rotation while the process is down: every line once, missing ones only among the uncertain.
import { appendFile, mkdir, readFile, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { startTestApi } from '../src/testapi/server.js'
import { withTempDir } from './helpers/cli.js'
import { exactlyOnce, expected, pathsOf, startFollow, uncertainPaths, until } from './helpers/follow.js'

const PROJECT = 'TESTPROJECT1'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'

/** Lines n..n+count-1 as kubelet writes them: every 7th split into P + F parts, a stderr line after
 *  every 10th (ingress-nginx's error log shares the file). */
function criLines(from: number, count: number): string {
  let text = ''
  for (let n = from; n < from + count; n++) {
    const ts = new Date(Date.UTC(2026, 11, 7, 12, 0, 0) + n).toISOString().replace('Z', '123456Z')
    const line = `192.0.2.${1 + (n % 200)} - - [07/Dec/2026:12:00:00 +0000] "GET /k/${n} HTTP/1.1" 200 512 "-" "${UA}"`
    if (n % 7 === 0) text += `${ts} stdout P ${line.slice(0, 40)}\n${ts} stdout F ${line.slice(40)}\n`
    else text += `${ts} stdout F ${line}\n`
    if (n % 10 === 0) text += `${ts} stderr F 2026/12/07 12:00:00 [error] 31#31: *${n} open() failed (2: No such file or directory)\n`
  }
  return text
}

describe('follow on Kubernetes container logs', () => {
  it('links, kubelet rotations, a deleted and a new pod, a SIGKILL with a rotation while down: every line once', { timeout: 90_000 }, async () => {
    const api = await startTestApi({ projects: [PROJECT] })
    try {
      await withTempDir(async (dir) => {
        const containers = join(dir, 'containers')
        const pods = join(dir, 'pods')
        await mkdir(containers)
        const state = join(dir, 'state')
        const args = ['-p', PROJECT, '--api-url', api.url, '--state-dir', state, '--stats-interval', '0', '--rotate-wait', '300ms', '--poll-interval', '100ms']
        args.push('--concurrency', '8', join(containers, 'ingress-nginx-controller-*.log'))
        const pod = async (name: string) => {
          const logDir = join(pods, `ingress-nginx_${name}_uid-${name}`, 'controller')
          await mkdir(logDir, { recursive: true })
          const log = join(logDir, '0.log')
          await writeFile(log, '')
          const link = join(containers, `${name}_ingress-nginx_controller-${name}0123.log`)
          await symlink(log, link)
          return { log, link, dir: join(pods, `ingress-nginx_${name}_uid-${name}`) }
        }
        let n = 0
        const write = async (log: string, count: number) => {
          await appendFile(log, criLines(n, count))
          n += count
        }
        const accepted = (k: number) =>
          until(() => api.accepted().length >= k, `${k} lines accepted`, 30_000).catch((err: Error) => {
            throw new Error(
              `${err.message}\n${f.stderr()}\nmissing: ${exactlyOnce(pathsOf(api), expected('k', 0, k))
                .missing.slice(0, 10)
                .join(' ')}`,
            )
          })

        const p1 = await pod('ingress-nginx-controller-aaa')
        let f = startFollow(args)
        await f.said(/waiting for one|matching|follow/i, 20_000).catch(() => {})
        await write(p1.log, 150)
        await accepted(150)
        // kubelet's rotation: rename with a stamp, a new 0.log; later the older generation gzipped.
        await rename(p1.log, `${p1.log}.20261207-120000`)
        await writeFile(p1.log, '')
        await write(p1.log, 100)
        await accepted(250)
        await rename(p1.log, `${p1.log}.20261207-130000`)
        await writeFile(p1.log, '')
        await writeFile(`${p1.log}.20261207-120000.gz`, gzipSync(await readFile(`${p1.log}.20261207-120000`)))
        await unlink(`${p1.log}.20261207-120000`)
        await write(p1.log, 100)
        await accepted(350)
        // The pod's last lines, and the pod goes away right after them (its file is open: the
        // follower finishes it before forgetting it); a new pod comes.
        await write(p1.log, 30)
        await rm(p1.link)
        await rm(p1.dir, { recursive: true })
        const p2 = await pod('ingress-nginx-controller-bbb')
        await write(p2.log, 150)
        await accepted(530)
        // Killed; lines, a rotation and more lines while it is down.
        f.child.kill('SIGKILL')
        await f.exited
        await write(p2.log, 80)
        await rename(p2.log, `${p2.log}.20261207-140000`)
        await writeFile(p2.log, '')
        await write(p2.log, 70)
        f = startFollow(args)
        await until(async () => new Set([...pathsOf(api), ...(await uncertainPaths(state))]).size >= n, 'every line sent or reported uncertain', 40_000).catch(
          (err: Error) => {
            throw new Error(
              `${err.message}\n${f.stderr()}\nmissing: ${exactlyOnce(pathsOf(api), expected('k', 0, n))
                .missing.slice(0, 10)
                .join(' ')}`,
            )
          },
        )
        f.child.kill('SIGTERM')
        expect((await f.exited).code, f.stderr()).toBe(0)
        const uncertain = await uncertainPaths(state)
        const r = exactlyOnce(pathsOf(api), expected('k', 0, n))
        expect(r.duplicated).toEqual([])
        expect(r.unexpected).toEqual([])
        expect(r.missing.filter((p) => !uncertain.includes(p))).toEqual([])
        expect(uncertain.length).toBeLessThanOrEqual(8)
      })
    } finally {
      await api.close()
    }
  })
  it('a controller whose log starts with its version banner: auto-detection waits for the first access line (ingress_nginx)', { timeout: 30_000 }, async () => {
    const api = await startTestApi({ projects: [PROJECT] })
    try {
      await withTempDir(async (dir) => {
        const log = join(dir, '0.log')
        const ts = '2026-12-07T12:00:00.000000001Z'
        const banner = [
          '-------------------------------------------------------------------------------',
          'NGINX Ingress controller',
          '  Release:       v1.11.2',
        ]
        await writeFile(log, banner.map((b) => `${ts} stderr F ${b}\n`).join(''))
        const f = startFollow([
          '-p',
          PROJECT,
          '--api-url',
          api.url,
          '--state-dir',
          join(dir, 'state'),
          '--stats-interval',
          '0',
          '--poll-interval',
          '100ms',
          log,
        ])
        await f.said(/starting at its end/, 20_000)
        // upstreaminfo: combined, then request length, request time, upstream name, alternative, address, length, time, status, request id.
        const access = `198.51.100.23 - - [07/Dec/2026:12:00:01 +0000] "GET /after-banner HTTP/1.1" 200 512 "-" "${UA}" 321 0.002 [default-web-80] [] 10.0.0.5:80 512 0.002 200 0123456789abcdef`
        await appendFile(log, `${ts} stdout F ${access}\n`)
        await until(() => api.accepted().length >= 1, 'the access line accepted', 20_000).catch((err: Error) => {
          throw new Error(`${err.message}\n${f.stderr()}`)
        })
        f.child.kill('SIGTERM')
        expect((await f.exited).code, f.stderr()).toBe(0)
        const [event] = api.accepted()
        expect(event?.body.pg).toBe('/after-banner')
        expect(event?.ip).toBe('198.51.100.23')
        expect(api.accepted()).toHaveLength(1)
      })
    } finally {
      await api.close()
    }
  })
})
