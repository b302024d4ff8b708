// Logs freshly written by a real nginx (combined, escape=json, vhost), garbage requests included:
// every line must parse as a record with the right fields. Skipped when nginx is not installed
// (.ci/run installs it).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { connect, createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'

const nginxBin = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => spawnSync(p, ['-v']).status === 0)

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as AddressInfo).port
  await new Promise((r) => srv.close(r))
  return port
}

function httpGet(port: number, path: string, headers: Record<string, string>, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end()
  })
}

/** Sends raw bytes and waits until nginx closes the connection (it logs the request by then). */
function raw(port: number, bytes: Buffer | string): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.end(bytes))
    s.on('data', () => {})
    s.on('close', () => resolve())
    s.on('error', () => resolve())
  })
}

const suite = nginxBin ? describe : describe.skip
if (!nginxBin) console.log('real-nginx: nginx is not installed; skipping (apt-get install nginx)')

suite('logs written by a real nginx', () => {
  let lab = ''
  let nginx: ChildProcess | undefined
  let sent = 0

  beforeAll(async () => {
    lab = await mkdtemp(join(tmpdir(), 'swx-nginx-'))
    await chmod(lab, 0o755) // workers may run as another user and must read html/
    await mkdir(join(lab, 'logs'))
    await mkdir(join(lab, 'html'), { mode: 0o755 })
    await mkdir(join(lab, 'run'))
    await writeFile(join(lab, 'html', 'index.html'), '<h1>hello</h1>')
    const port = await freePort()
    const conf = `
worker_processes 1;
pid ${lab}/run/nginx.pid;
error_log ${lab}/logs/error.log warn;
events { worker_connections 64; }
http {
  client_body_temp_path ${lab}/run/body;
  proxy_temp_path ${lab}/run/proxy;
  fastcgi_temp_path ${lab}/run/fcgi;
  uwsgi_temp_path ${lab}/run/uwsgi;
  scgi_temp_path ${lab}/run/scgi;
  log_format json escape=json '{"time_iso8601":"$time_iso8601","remote_addr":"$remote_addr","remote_user":"$remote_user",'
    '"request":"$request","status":$status,"body_bytes_sent":$body_bytes_sent,"request_time":$request_time,'
    '"http_referer":"$http_referer","http_user_agent":"$http_user_agent","http_x_forwarded_for":"$http_x_forwarded_for","host":"$host"}';
  log_format vhost '$host:$server_port $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';
  server {
    listen 127.0.0.1:${port};
    server_name localhost shop.test;
    root ${lab}/html;
    large_client_header_buffers 4 16k;
    access_log ${lab}/logs/access.log combined;
    access_log ${lab}/logs/access.json.log json;
    access_log ${lab}/logs/access.vhost.log vhost;
    location = /boom { return 500; }
    location = /old { return 301 /new; }
    location / { try_files $uri $uri/ =404; }
  }
}
`
    await writeFile(join(lab, 'nginx.conf'), conf)
    nginx = spawn(nginxBin!, ['-p', lab, '-c', join(lab, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' })
    // Ready when it accepts connections.
    for (let i = 0; i < 200; i++) {
      const ok = await new Promise<boolean>((r) => {
        const s = connect(port, '127.0.0.1', () => {
          s.destroy()
          r(true)
        })
        s.on('error', () => r(false))
      })
      if (ok) break
      await new Promise((r) => setTimeout(r, 25))
    }
    const browser = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'
    const requests: Array<[string, Record<string, string>, string?]> = [
      ['/', { 'User-Agent': browser }],
      ['/?utm_source=newsletter&utm_medium=email', { 'User-Agent': browser, Referer: 'https://www.example.com/page' }],
      ['/missing', { 'User-Agent': browser }],
      ['/boom', { 'User-Agent': browser }],
      ['/old', { 'User-Agent': browser }],
      ['/', { 'User-Agent': 'Quote " and backslash \\ in UA', 'X-Forwarded-For': '203.0.113.7, 198.51.100.2' }],
      ['/', { 'User-Agent': '' }],
      ['/', { 'User-Agent': browser, Host: 'shop.test' }],
      ['/caf%C3%A9?q=%22x%22', { 'User-Agent': browser }],
      ['/', { 'User-Agent': browser }, 'HEAD'],
      ['/', { 'User-Agent': browser }, 'POST'],
    ]
    for (const [path, headers, method] of requests) {
      await httpGet(port, path, headers, method)
      sent++
    }
    for (const garbage of [
      Buffer.from('16030100ca010000c60303', 'hex'), // TLS ClientHello start
      'SSH-2.0-OpenSSH_9.6\r\n',
      'junk line\r\n\r\n',
      'GET /no-host HTTP/1.1\r\n\r\n', // HTTP/1.1 without Host: 400
      `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`, // long request line
      'GET /raw\xff\xfe HTTP/1.0\r\n\r\n', // invalid UTF-8 in the path
    ]) {
      await raw(port, typeof garbage === 'string' ? Buffer.from(garbage, 'latin1') : garbage)
      sent++
    }
  }, 60_000)

  afterAll(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((r) => nginx!.once('exit', r))
      nginx.kill('SIGQUIT')
      await exited
    }
    if (lab && !process.env.KEEP_LAB) await rm(lab, { recursive: true, force: true })
    if (process.env.KEEP_LAB) console.log(lab)
  })

  for (const [file, format] of [
    ['access.log', 'combined'],
    ['access.json.log', 'nginx_json'],
    ['access.vhost.log', 'vhost_combined'],
  ] as const) {
    it(`${file}: auto-detected as ${format}, every line a record`, async () => {
      const log = join(lab, 'logs', file)
      const text = await readFile(log, 'latin1')
      expect(text.split('\n').length - 1).toBe(sent)
      const r = await runCli(['check', '--json', log])
      expect(r.code, r.stderr).toBe(0)
      const f = JSON.parse(r.stdout).files[0]
      expect(f.format).toBe(format)
      expect(f.lines).toBe(sent)
      expect(f.rejected).toBe(0)
      expect(f.skipped.malformed).toBeGreaterThanOrEqual(3) // TLS, SSH banner, junk
      expect(f.events.pageview).toBeGreaterThanOrEqual(4)
      expect(f.events.error).toBe(1)

      const recs = (await runCli(['check', '--records', log])).stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
      for (const rec of recs) {
        expect(rec.valid).toBe(true)
        expect(rec.ip).toBe('127.0.0.1')
        expect(Date.parse(rec.time)).toBeGreaterThan(Date.parse('2020-01-01T00:00:00Z'))
      }
      const boom = recs.find((x) => x.path === '/boom')
      expect(boom).toMatchObject({ method: 'GET', status: 500, outcome: 'error' })
      const utm = recs.find((x) => x.query?.startsWith('utm_source'))
      expect(utm).toMatchObject({ path: '/', query: 'utm_source=newsletter&utm_medium=email', status: 200, outcome: 'pageview' })
      expect(utm.referrer).toBe('https://www.example.com/page')
      expect(recs.find((x) => x.request_line?.startsWith('SSH-2.0'))).toMatchObject({ method: null, outcome: 'skip:malformed' })

      const events = (await runCli(['check', '--events', log])).stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
      const quoted = events.find((e) => e.headers['User-Agent']?.startsWith('Quote'))
      expect(quoted.headers['User-Agent']).toBe('Quote " and backslash \\ in UA')
      expect(events.find((e) => e.body.so === 'newsletter')).toBeDefined()
    })
  }
})
