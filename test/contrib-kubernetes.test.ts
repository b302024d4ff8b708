// contrib/kubernetes/: every document validates against the Kubernetes API schema (kubernetes-models),
// and the DaemonSet does what docs/containers.md promises: read-only logs, a state dir per node that
// the non-root process can write, settings from the ConfigMap and Secret, probes on /health, bounded
// resources, and time to stop cleanly on SIGTERM.
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { DaemonSet, type IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet'
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Namespace } from 'kubernetes-models/v1/Namespace'
import { Secret, type ISecret } from 'kubernetes-models/v1/Secret'
import { ServiceAccount, type IServiceAccount } from 'kubernetes-models/v1/ServiceAccount'
import type { IContainer } from 'kubernetes-models/v1/Container'
import type { IProbe } from 'kubernetes-models/v1/Probe'
import { repoRoot } from './helpers/cli.js'

const dir = join(repoRoot, 'contrib/kubernetes')
/** The delivery engine's grace for requests in flight after SIGTERM (docs/follow.md "Signals and exit codes"). */
const FOLLOW_GRACE_SECONDS = 10

interface Doc {
  file: string
  value: Record<string, unknown>
}

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'apps/v1/DaemonSet': DaemonSet,
}

function loadDocs(): Doc[] {
  const docs: Doc[] = []
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
    for (const d of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      if ('errors' in d && (d.errors.length > 0 || d.warnings.length > 0)) throw new Error(`${file}: ${[...d.errors, ...d.warnings].join('; ')}`)
      const value: unknown = d.toJS()
      if (value !== null) docs.push({ file, value: value as Record<string, unknown> })
    }
  }
  return docs
}

const docs = loadDocs()
const apiDocs = docs.filter((d) => d.value.kind !== 'Kustomization')
const one = <T>(kind: string): T => {
  const found = apiDocs.filter((d) => d.value.kind === kind)
  expect(found, kind).toHaveLength(1)
  return found[0]!.value as T
}
const ds = one<IDaemonSet>('DaemonSet')
const pod = ds.spec!.template.spec!
const main = pod.containers.find((c) => c.name === 'swetrix-ingest')!
const mountOf = (c: IContainer, path: string) => c.volumeMounts?.find((m) => m.mountPath === path)
const volumeOf = (name: string) => pod.volumes?.find((v) => v.name === name)

describe('contrib/kubernetes manifests', () => {
  it('every document of every YAML file validates against the Kubernetes schema', () => {
    expect(apiDocs.map((d) => `${d.file}: ${String(d.value.kind)}`).sort()).toEqual([
      'configmap.yaml: ConfigMap',
      'daemonset.yaml: DaemonSet',
      'namespace.yaml: Namespace',
      'secret.example.yaml: Secret',
      'serviceaccount.yaml: ServiceAccount',
    ])
    for (const d of apiDocs) {
      const Model = MODELS[`${String(d.value.apiVersion)}/${String(d.value.kind)}`]
      expect(Model, `${d.file}: no model for ${String(d.value.apiVersion)} ${String(d.value.kind)} in this test`).toBeDefined()
      expect(() => new Model!(d.value as never).validate(), d.file).not.toThrow()
    }
  })

  it('the schema check is live: a wrong type or a missing required field is refused', () => {
    const broken = structuredClone(ds) as unknown as { spec: Record<string, unknown> & { template: { spec: Record<string, unknown> } } }
    broken.spec.template.spec.terminationGracePeriodSeconds = '30'
    expect(() => new DaemonSet(broken as unknown as IDaemonSet).validate()).toThrow(/terminationGracePeriodSeconds/)
    const noSelector = structuredClone(ds) as unknown as { spec: Record<string, unknown> }
    delete noSelector.spec.selector
    expect(() => new DaemonSet(noSelector as unknown as IDaemonSet).validate()).toThrow(/selector/)
  })

  it('everything lives in one namespace, and kustomization.yaml applies all of it but the example Secret', () => {
    const namespace = one<{ metadata: { name: string } }>('Namespace').metadata.name
    for (const d of apiDocs.filter((x) => x.value.kind !== 'Namespace')) expect((d.value.metadata as { namespace?: string }).namespace, d.file).toBe(namespace)
    const kustomization = docs.find((d) => d.value.kind === 'Kustomization')!.value as { resources: string[]; images: { name: string }[] }
    const manifests = [...new Set(apiDocs.map((d) => d.file))].filter((f) => f !== 'secret.example.yaml')
    expect([...kustomization.resources].sort()).toEqual(manifests.sort())
    // kustomize replaces images by name (the part before the tag).
    for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) expect(kustomization.images.map((i) => i.name)).toContain(c.image!.split(':')[0])
  })

  it('reads the logs read-only: /var/log (links and their targets) and, for Docker nodes, /var/lib/docker/containers', () => {
    for (const path of ['/var/log', '/var/lib/docker/containers']) {
      const mount = mountOf(main, path)
      expect(mount?.readOnly, path).toBe(true)
      expect(volumeOf(mount!.name)?.hostPath?.path, path).toBe(path)
    }
    // Only the state dir is writable.
    expect(main.volumeMounts!.filter((m) => m.readOnly !== true).map((m) => m.mountPath)).toEqual(['/var/lib/swetrix-ingest'])
  })

  it('keeps checkpoints in a hostPath state dir per node, handed to the non-root user by an init container', () => {
    const mount = mountOf(main, '/var/lib/swetrix-ingest')!
    expect(volumeOf(mount.name)?.hostPath).toEqual({ path: '/var/lib/swetrix-ingest', type: 'DirectoryOrCreate' })
    expect(main.env?.find((e) => e.name === 'SWETRIX_INGEST_STATE_DIR')?.value).toBe(mount.mountPath)
    const init = pod.initContainers?.find((c) => mountOf(c, mount.mountPath) !== undefined)
    expect(init?.command).toEqual([
      'install',
      '-d',
      '-m',
      '0700',
      '-o',
      String(pod.securityContext!.runAsUser),
      '-g',
      String(pod.securityContext!.runAsGroup),
      mount.mountPath,
    ])
    expect(init?.securityContext?.capabilities).toEqual({ drop: ['ALL'], add: ['CHOWN', 'FOWNER'] })
    expect(init?.securityContext?.allowPrivilegeEscalation).toBe(false)
  })

  it('takes the project id from the Secret and the API URL and the log pattern from the ConfigMap', () => {
    const configMap = one<IConfigMap>('ConfigMap')
    const secret = one<ISecret>('Secret')
    const envOf = (name: string) => main.env?.find((e) => e.name === name)?.valueFrom
    expect(envOf('SWETRIX_PROJECT_ID')?.secretKeyRef).toEqual({ name: secret.metadata!.name, key: 'project-id' })
    expect(Object.keys(secret.stringData ?? {})).toEqual(['project-id'])
    expect(envOf('SWETRIX_API_URL')?.configMapKeyRef).toEqual({ name: configMap.metadata!.name, key: 'api-url' })
    expect(envOf('SWETRIX_INGEST_FOLLOW')?.configMapKeyRef).toEqual({ name: configMap.metadata!.name, key: 'follow' })
    expect(configMap.data?.['api-url']).toMatch(/^https:\/\/.+\/log$/)
    // The kubelet expands $(SWETRIX_INGEST_FOLLOW) in args; the pattern is one argument, no shell.
    expect(main.command).toBeUndefined()
    expect(main.args?.[0]).toBe('follow')
    // The format is detected inside the wrapper: a controller's banner first does not stop it
    // (test/follow-k8s.test.ts), and a custom log-format-upstream is read too.
    expect(main.args?.find((a) => a.startsWith('--format'))).toBeUndefined()
    expect(main.args?.at(-1)).toBe('$(SWETRIX_INGEST_FOLLOW)')
    expect(configMap.data?.follow).toMatch(/^\/var\/log\/containers\/[^\s'"]+\.log$/)
  })

  it('probes /health on the metrics port, which listens on all addresses for the kubelet', () => {
    const port = main.ports?.find((p) => p.name === 'metrics')
    expect(port?.containerPort).toBe(9464)
    expect(main.args).toContain(`--metrics-addr=0.0.0.0:${port!.containerPort}`)
    const probes: [string, IProbe | undefined][] = [
      ['startup', main.startupProbe],
      ['readiness', main.readinessProbe],
      ['liveness', main.livenessProbe],
    ]
    for (const [name, probe] of probes) {
      expect(probe?.httpGet, name).toEqual({ path: '/health', port: 'metrics' })
      expect(probe?.timeoutSeconds, name).toBeGreaterThanOrEqual(2)
    }
    const annotations = ds.spec!.template.metadata!.annotations!
    expect([annotations['prometheus.io/port'], annotations['prometheus.io/path']]).toEqual([String(port!.containerPort), '/metrics'])
  })

  it('sets resource requests and limits, with room above the measured peak (~150 MiB)', () => {
    const mib = (q: string | number | undefined): number => {
      const m = /^(\d+)(Mi|Gi)$/.exec(String(q))
      if (!m) throw new Error(`memory quantity ${String(q)}: expected Mi or Gi`)
      return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1)
    }
    for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
      for (const k of ['cpu', 'memory']) {
        expect(c.resources?.requests?.[k], `${c.name} requests.${k}`).toBeDefined()
        expect(c.resources?.limits?.[k], `${c.name} limits.${k}`).toBeDefined()
      }
      expect(mib(c.resources!.limits!.memory)).toBeGreaterThanOrEqual(mib(c.resources!.requests!.memory))
    }
    expect(mib(main.resources!.limits!.memory)).toBeGreaterThanOrEqual(1.5 * 150)
  })

  it('runs as a non-root user that reads the logs through group 0, without capabilities or privilege escalation', () => {
    const sc = pod.securityContext!
    expect(sc.runAsNonRoot).toBe(true)
    expect(sc.runAsUser).toBeGreaterThan(0)
    expect(sc.supplementalGroups).toEqual([0])
    expect(sc.seccompProfile?.type).toBe('RuntimeDefault')
    expect(main.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } })
    // The image's own user is the same uid, so files it creates in a new volume match.
    const imageUser = /^USER\s+(\d+):(\d+)\s*$/m.exec(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'))
    expect(imageUser?.slice(1).map(Number)).toEqual([sc.runAsUser, sc.runAsGroup])
    expect(pod.automountServiceAccountToken).toBe(false)
    expect(one<IServiceAccount>('ServiceAccount').automountServiceAccountToken).toBe(false)
    expect(pod.serviceAccountName).toBe(one<IServiceAccount>('ServiceAccount').metadata!.name)
  })

  it('gives SIGTERM time to finish the requests in flight and checkpoint, and never runs two pods on one node', () => {
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(2 * FOLLOW_GRACE_SECONDS)
    expect(ds.spec!.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } })
    expect(main.lifecycle?.preStop).toBeUndefined()
  })
})
