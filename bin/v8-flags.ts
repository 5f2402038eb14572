// V8 flags of the long-running processes, per memory profile (docs/RESILIENCE.md, "Memory"). Shared by
// the launcher (bin/gatehouse.mjs) and the benchmarks, so that what is measured is what runs.

/**
 * Speed (the default): V8 counts ArrayBuffer memory (request bodies, socket reads) in its global heap
 * limit instead of starting a full collection after every 64 MB of it. A 200 KB Codex turn allocates
 * ~0.45 MB of such buffers, so V8's default ran a full mark-compact every ~140 turns; this gateway's
 * heap made each one dear. Measured: CPU per 200 KB turn -16 % at 64 connections, -47 % at one,
 * p50 -0.2 ms; peak RSS under 64 concurrent 200 KB turns +190 MB (docs/BENCHMARKS.md).
 */
export const SPEED_V8_FLAGS = '--external-memory-accounted-in-global-limit';

/** Lean: a small young generation and V8's memory saver (CPU for memory). */
export const LEAN_V8_FLAGS = '--max-semi-space-size=1 --memory-saver-mode';

/** The flags a server process gets: GATEHOUSE_V8_FLAGS when set (empty: none), else the profile's. */
export function v8FlagsFor(environment: Record<string, string | undefined>): string[] {
  const chosen = environment.GATEHOUSE_V8_FLAGS ?? (environment.GATEHOUSE_MEMORY_PROFILE === 'lean' ? LEAN_V8_FLAGS : SPEED_V8_FLAGS);
  return chosen.split(/\s+/).filter(Boolean);
}
