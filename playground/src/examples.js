// Examples bundled at build time: every directory of the repository's examples/ and the tiny
// one kept here. Each becomes [{path, text}] with site-relative paths.
const repo = import.meta.glob('../../examples/*/**/*.yaml', { query: '?raw', import: 'default', eager: true });
const local = import.meta.glob('./examples/*/**/*.yaml', { query: '?raw', import: 'default', eager: true });

const ORDER = ['site.yaml', 'hosts.yaml'];
export function sortFiles(files) {
  const rank = (p) => (ORDER.includes(p) ? ORDER.indexOf(p) : ORDER.length);
  return [...files].sort((a, b) => rank(a.path) - rank(b.path) || a.path.localeCompare(b.path));
}

function group(modules, prefix) {
  const sites = new Map();
  for (const [key, text] of Object.entries(modules)) {
    const rest = key.slice(key.indexOf(prefix) + prefix.length);
    const name = rest.slice(0, rest.indexOf('/'));
    const path = rest.slice(name.length + 1);
    if (!sites.has(name)) sites.set(name, []);
    sites.get(name).push({ path, text });
  }
  return [...sites].map(([name, files]) => ({ name, files: sortFiles(files) }));
}

export const EXAMPLES = [
  ...group(repo, '/examples/').map((e) => ({ ...e, id: e.name, title: `${e.name} (examples/${e.name})` })),
  ...group(local, './examples/').map((e) => ({ ...e, id: e.name, title: `${e.name} (tiny)` })),
];
