// No import cycle in the tool's own modules (src/, parsers/): a cycle makes load order decide which
// binding is still undefined, and it says two modules are one job. Type-only imports are left out
// (they vanish at build time); lazy `import()`s count (a command loaded lazily is still a module
// that must not import its caller).
import { readdir } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { parseCircular, parseDependencyTree } from 'dpdm'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')

async function sources(): Promise<string[]> {
  const files: string[] = []
  for (const dir of ['src', 'parsers'])
    for (const f of await readdir(join(root, dir), { recursive: true })) if (f.endsWith('.ts') && !f.endsWith('.d.ts')) files.push(join(dir, f))
  return files
}

describe('module graph', () => {
  it('has no import cycle among src/ and parsers/', { timeout: 60_000 }, async () => {
    const entries = await sources()
    const tree = await parseDependencyTree(entries, { context: root, transform: true, skipDynamicImports: undefined })
    // The graph is really resolved (relative `.js` specifiers to the `.ts` files): the CLI reaches
    // its commands, and every source file is in the tree.
    const deps = (file: string) => (tree[file] ?? []).map((d) => d.id && relative(root, join(root, d.id)))
    expect(deps('src/program.ts').some((d) => d?.startsWith('src/commands/'))).toBe(true)
    expect(entries.every((f) => f in tree)).toBe(true)
    const cycles = parseCircular(tree).map((c) => c.join(' -> '))
    expect(cycles).toEqual([])
  })
})
