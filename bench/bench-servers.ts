// What every benchmark script shares: the servers it forks (fake upstream, bare proxy, Gatehouse),
// their IPC (port, CPU time, stop) and the request the load generator sends.
import { fork, type ChildProcess } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fillStrippedSourceCache } from '../bin/stripped-sources.mjs';
import { v8FlagsFor } from '../bin/v8-flags.ts';

/**
 * A server process loads its TypeScript already stripped, as `bin/gatehouse.mjs` has it do (bin/stripped-sources.mjs):
 * the cache filled here, the hook registered in the child before its entry file loads.
 */
const STRIPPED_SOURCES_IMPORT = `--import=data:text/javascript,import{serveStrippedSources}from"${pathToFileURL(resolve(import.meta.dirname, '../bin/stripped-sources.mjs')).href}";serveStrippedSources();`;
let strippedSourcesFilled = false;

export interface BenchServer {
  child: ChildProcess;
  port: number;
}

/**
 * Forks a bench server (a path relative to bench/ or absolute) and resolves once it listens. Gatehouse
 * gets the V8 flags `bin/gatehouse.mjs` gives a server process (GATEHOUSE_V8_FLAGS and
 * GATEHOUSE_MEMORY_PROFILE in `environment` choose them as in production), before any in `execArgv`.
 */
export async function startBenchServer(file: string, environment: Record<string, string> = {}, execArgv: string[] = []): Promise<BenchServer> {
  const path = isAbsolute(file) ? file : resolve(import.meta.dirname, file);
  const env = { ...process.env, ...environment };
  const serverFlags = path.endsWith('gatehouse-server.ts') ? v8FlagsFor(env) : [];
  if (!strippedSourcesFilled) {
    fillStrippedSourceCache({ alsoFolders: ['bench', 'test'] });
    strippedSourcesFilled = true;
  }
  const child = fork(path, [], { env, execArgv: [STRIPPED_SOURCES_IMPORT, ...serverFlags, ...execArgv], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolvePort, reject) => {
    child.once('message', (message: { port: number }) => resolvePort({ child, port: message.port }));
    child.once('exit', (code) => reject(new Error(`${path} exited with ${code}`)));
  });
}

/** Sends `message` and resolves with `field` of the first answer that carries it. */
export function ask<T>(child: ChildProcess, message: string, field: string): Promise<T> {
  return new Promise((resolveAnswer) => {
    const listener = (answer: Record<string, unknown>) => {
      if (!(field in answer)) return;
      child.off('message', listener);
      resolveAnswer(answer[field] as T);
    };
    child.on('message', listener);
    child.send(message);
  });
}

/** The server's CPU time so far (user + system, all threads), µs. */
export async function cpuMicros(child: ChildProcess): Promise<number> {
  const cpu = await ask<{ user: number; system: number }>(child, 'cpu', 'cpu');
  return cpu.user + cpu.system;
}

/**
 * The server's main thread's CPU time so far (user + system), µs: the event loop's own work, without
 * V8's helper threads or the embedded ClickHouse's, so less disturbed by other load on a shared machine.
 * NaN for a server that does not report it (the bare proxy cluster).
 */
export function mainThreadMicros(child: ChildProcess): Promise<number> {
  return new Promise((resolveMicros) => {
    const listener = (answer: { cpu?: unknown; thread?: { user: number; system: number } }) => {
      if (!('cpu' in answer)) return;
      child.off('message', listener);
      resolveMicros(answer.thread ? answer.thread.user + answer.thread.system : Number.NaN);
    };
    child.on('message', listener);
    child.send('cpu');
  });
}

/** Asks the server to close cleanly (Gatehouse flushes its spans and closes) and waits for it to exit. */
export async function stopBenchServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.send('stop');
  await exited;
}

export const BENCH_HEADERS = { 'content-type': 'application/json', authorization: 'Bearer vk_bench' };

/** The request body every target gets: one short Responses turn, streamed or not. */
export function benchBody(stream: boolean): string {
  return JSON.stringify({ model: 'gpt-5.5', input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Say hello twenty times.' }] }], stream });
}
