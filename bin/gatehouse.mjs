#!/usr/bin/env node
// Entry of `npx gatehouse …`. Node.js 24 runs the TypeScript sources directly (type stripping).
const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  console.error(`gatehouse needs Node.js 22.12 or newer (found ${process.version}). Run it through npm (npm start / npx gatehouse), which uses the bundled Node.js 24.`);
  process.exit(1);
}

// The project's .ts files are served already stripped of their types (./stripped-sources.mjs), so a server process
// never loads Node's TypeScript stripper (~18 MB of RSS). Registered before the first .ts import.
const { serveStrippedSources, fillStrippedSourceCache, defaultCacheDir } = await import('./stripped-sources.mjs');
serveStrippedSources();

// Memory profile of the long-running processes (docs/RESILIENCE.md, "Memory"), flags in ./v8-flags.ts.
// The default is speed: V8's own heap sizing, with ArrayBuffer memory counted in its global limit.
// GATEHOUSE_MEMORY_PROFILE=lean trades CPU for memory (a gateway replica holding 1,000 streams peaks at
// ~200 MB instead of ~340 MB, at roughly 1.5–2× the CPU per request): a small young generation, V8's
// memory saver, and one malloc arena for the `gateway` command. Heap-size flags only take effect when
// the isolate is created, so the process replaces itself (execve: same pid, same stdio) with the flags
// added. GATEHOUSE_V8_FLAGS sets the flags directly (empty: none; V8 flags given to node itself or in
// NODE_OPTIONS win); MALLOC_ARENA_MAX is respected when set.
const { v8FlagsFor } = await import('./v8-flags.ts');
const SERVER_COMMANDS = new Set(['start', 'gateway', 'collector', 'evaluator', 'optimizer']);
const lean = process.env.GATEHOUSE_MEMORY_PROFILE === 'lean';
const command = process.argv[2];
if (SERVER_COMMANDS.has(command) && process.env.GATEHOUSE_MEMORY_FLAGS_APPLIED === undefined) {
  const given = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`.replaceAll('_', '-');
  const flagName = (flag) => flag.replace(/^--(no-)?/, '').split('=')[0].replaceAll('_', '-');
  const flags = v8FlagsFor(process.env).filter((flag) => !given.includes(flagName(flag)));
  // One malloc arena: the gateway's threads allocate little natively. Not for processes that may own the
  // embedded engine (chDB's many threads allocate through malloc).
  const arena = lean && command === 'gateway' && process.env.MALLOC_ARENA_MAX === undefined ? { MALLOC_ARENA_MAX: '1' } : {};
  if ((flags.length > 0 || arena.MALLOC_ARENA_MAX) && typeof process.execve === 'function') {
    // Stripping what the cache lacks loads the stripper here, in the process about to be replaced. A cache that
    // cannot be filled costs memory, never the start: the server then strips what it lacks as it loads.
    try {
      const { writable } = fillStrippedSourceCache();
      if (!writable) console.error(`gatehouse: the stripped-source cache (${defaultCacheDir()}) lacks sources and cannot be written; this process loads Node's type stripper (~18 MB more). Run \`node bin/stripped-sources.mjs\` as the owner of node_modules.`);
    } catch {
      // An unreadable folder or the like: Node's own type stripping still runs every source.
    }
    try {
      process.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], { ...process.env, ...arena, GATEHOUSE_MEMORY_FLAGS_APPLIED: flags.join(' ') });
    } catch {
      // Not allowed here: fall through and apply what can still be applied at run time.
    }
  }
  // No execve (Windows, Node < 23.11): flags read at run time (memory saver) still apply.
  if (flags.length > 0) (await import('node:v8')).setFlagsFromString(flags.join(' '));
}
delete process.env.GATEHOUSE_MEMORY_FLAGS_APPLIED;

// `gatehouse … | head`: the reader left; stop quietly as a command killed by SIGPIPE would, not with a stack trace.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
