// Node.js runs Gatehouse's TypeScript sources directly: it strips their types as it loads each file. The stripper
// it uses (amaro, swc built to WebAssembly) stays in the process once loaded, ~18 MB of RSS: 9 % of the 200 MB a
// lean gateway replica holding 1,000 streams may use (docs/RESILIENCE.md, "Memory"). Stripping is a pure function
// of the source, so each version of a file is stripped once, by Node's own function (module.stripTypeScriptTypes,
// the same amaro, same mode), and kept in node_modules/.cache/gatehouse/stripped/, named by a hash of the source
// and the stripper's version. A load hook serves the project's .ts files from there. The launcher fills the cache
// before it replaces itself with the server process (bin/gatehouse.mjs), and the image build fills it ahead
// (Dockerfile), so a server process never loads the stripper. A file the cache lacks (an edit made
// while a server runs, an unwritable cache) is stripped in the process, as Node would have done: slower to load
// and heavier, never wrong. Types are replaced by blanks, so line and column numbers in stack traces still match
// the .ts file, whose URL the module keeps.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
// Namespace import: Node 22.12–22.14 lack registerHooks, and a named import of it would not even load there.
import * as nodeModule from 'node:module';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const PROJECT_ROOT = resolve(import.meta.dirname, '..');
/** Top-level folders that hold no code a Gatehouse process runs (tests, benchmarks, the console's Vite sources). */
const NOT_RUN = new Set(['test', 'bench', 'console', 'docs', 'deploy', 'packaging']);

/** Where a stripped file is kept: named by its source and the stripper's version, so a stale entry cannot be served. */
export function strippedSourcePath(cacheDir, source) {
  const hash = createHash('sha256').update(`amaro ${process.versions.amaro ?? 'unknown'}\0`).update(source).digest('hex');
  return join(cacheDir, `${hash}.js`);
}

export function defaultCacheDir(root = PROJECT_ROOT) {
  return join(root, 'node_modules', '.cache', 'gatehouse', 'stripped');
}

/**
 * Node 24 calls module.stripTypeScriptTypes experimental and says so on stderr at its first use, although it is the
 * function its own loader strips with: that notice is not the user's concern, every other warning still shows.
 */
function withoutExperimentalNotice(run) {
  const emitWarning = process.emitWarning;
  process.emitWarning = (warning, ...rest) => {
    if (!String(warning).includes('stripTypeScriptTypes')) emitWarning.call(process, warning, ...rest);
  };
  try {
    return run();
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** Strips `source` and keeps the result at `file`; false when the cache cannot be written (a read-only image). */
function strip(source, file, cacheDir) {
  const code = withoutExperimentalNotice(() => nodeModule.stripTypeScriptTypes(source, { mode: 'strip' }));
  try {
    mkdirSync(cacheDir, { recursive: true });
    // Written aside, then renamed: processes starting together never read a half-written file.
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, code);
    renameSync(partial, file);
    return { code, kept: true };
  } catch {
    return { code, kept: false };
  }
}

const strippingSupported = () => typeof nodeModule.registerHooks === 'function' && typeof nodeModule.stripTypeScriptTypes === 'function';

/**
 * Serves the project's .ts modules (not its dependencies') from the cache. Returns false where Node has no
 * synchronous load hooks (before 22.15), which leaves Node's own type stripping in charge.
 */
export function serveStrippedSources({ root = PROJECT_ROOT, cacheDir = defaultCacheDir(root) } = {}) {
  if (!strippingSupported()) return false;
  const rootUrl = pathToFileURL(`${root}/`).href;
  const dependenciesUrl = `${rootUrl}node_modules/`;
  nodeModule.registerHooks({
    load(url, context, nextLoad) {
      if (!url.startsWith(rootUrl) || url.startsWith(dependenciesUrl) || !url.endsWith('.ts')) return nextLoad(url, context);
      const source = readFileSync(fileURLToPath(url), 'utf8');
      const file = strippedSourcePath(cacheDir, source);
      let code;
      try {
        code = readFileSync(file, 'utf8');
      } catch {
        code = strip(source, file, cacheDir).code;
      }
      return { format: 'module', source: code, shortCircuit: true };
    },
  });
  return true;
}

/** The project's own .ts files (never its dependencies') under the top-level folders `includeFolder` accepts; top-level files are tool configs. */
function projectSources(root, includeFolder) {
  const files = [];
  const walk = (folder, top) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules' || (top && !includeFolder(entry.name))) continue;
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path, false);
      else if (!top && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
    }
  };
  walk(root, true);
  return files;
}

/**
 * Strips every runnable source the cache lacks. Stops at the first file it cannot keep (nothing to gain from
 * stripping the rest). Returns how many sources there are and how many were stripped now.
 */
export function fillStrippedSourceCache({ root = PROJECT_ROOT, cacheDir = defaultCacheDir(root), alsoFolders = [], pruneAbove = PRUNE_ABOVE } = {}) {
  // What a Gatehouse process may load, and any of `alsoFolders` (the benchmarks and tests fill theirs).
  const files = projectSources(root, (folder) => !NOT_RUN.has(folder) || alsoFolders.includes(folder));
  // Before Node 22.13 there is no stripTypeScriptTypes (nor, before 22.15, a hook to serve the result).
  if (!strippingSupported()) return { files: files.length, strippedNow: 0, writable: false };
  let strippedNow = 0;
  for (const path of files) {
    const source = readFileSync(path, 'utf8');
    const file = strippedSourcePath(cacheDir, source);
    if (existsSync(file)) continue;
    if (!strip(source, file, cacheDir).kept) return { files: files.length, strippedNow, writable: false };
    strippedNow += 1;
  }
  pruneOldVersions(root, cacheDir, pruneAbove);
  return { files: files.length, strippedNow, writable: true };
}

/** Every edit of a source adds an entry; past this many the entries of no current source are removed. */
const PRUNE_ABOVE = 4_000;

function pruneOldVersions(root, cacheDir, pruneAbove) {
  if (!existsSync(cacheDir)) return;
  const entries = readdirSync(cacheDir);
  if (entries.length <= pruneAbove) return;
  // Current in any folder (tests and benchmarks included): another process may be about to load them.
  const current = new Set(projectSources(root, () => true).map((path) => basename(strippedSourcePath(cacheDir, readFileSync(path, 'utf8')))));
  for (const entry of entries) if (!current.has(entry)) rmSync(join(cacheDir, entry), { force: true });
}

// `node bin/stripped-sources.mjs` (the image build): fill the cache ahead.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { files, strippedNow, writable } = fillStrippedSourceCache();
  const where = defaultCacheDir().slice(PROJECT_ROOT.length + 1);
  if (!strippingSupported()) console.log(`gatehouse: Node.js ${process.version} cannot strip types ahead (22.15 or newer can); Gatehouse's processes will strip their TypeScript as they load it (about 18 MB more memory each).`);
  else if (!writable) console.log(`gatehouse: ${where} is not writable; Gatehouse's processes will strip their TypeScript as they load it (about 18 MB more memory each).`);
  else console.log(`gatehouse: ${files} TypeScript sources ready to load without Node's type stripper (${strippedNow} stripped now, into ${where}).`);
}
