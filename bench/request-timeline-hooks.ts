// Preloaded (`--import`) into a bench server by bench/request-timeline.ts: timestamps of each request's
// phases from the diagnostics channels of Node's HTTP server and of undici, medians on the 'timeline'
// IPC message. Only what both servers (bare proxy and Gatehouse) expose, so their phases compare.
import diagnostics from 'node:diagnostics_channel';
import { median } from './bench-stats.ts';

/** In the order they happen in a pass-through request. */
const PHASES = ['headers', 'body', 'upstream request', 'upstream headers sent', 'upstream body sent', 'upstream answer headers', 'upstream answer end', 'response end'] as const;
type Phase = (typeof PHASES)[number];

const requests: Partial<Record<Phase, number>>[] = [];
let current: Partial<Record<Phase, number>> | undefined;
const mark = (phase: Phase) => {
  if (current && current[phase] === undefined) current[phase] = performance.now();
};

diagnostics.subscribe('http.server.request.start', (message) => {
  const marks: Partial<Record<Phase, number>> = { headers: performance.now() };
  current = marks;
  requests.push(marks);
  (message as { request: NodeJS.EventEmitter }).request.once('end', () => (marks.body = performance.now()));
});
diagnostics.subscribe('undici:request:create', () => mark('upstream request'));
diagnostics.subscribe('undici:client:sendHeaders', () => mark('upstream headers sent'));
diagnostics.subscribe('undici:request:bodySent', () => mark('upstream body sent'));
diagnostics.subscribe('undici:request:headers', () => mark('upstream answer headers'));
diagnostics.subscribe('undici:request:trailers', () => mark('upstream answer end'));
diagnostics.subscribe('http.server.response.finish', () => mark('response end'));

process.on('message', (message) => {
  if (message === 'timeline:reset') requests.length = 0;
  if (message !== 'timeline') return;
  const complete = requests.filter((marks) => PHASES.every((phase) => marks[phase] !== undefined)) as Record<Phase, number>[];
  const steps = PHASES.slice(1).map((phase, index) => ({ from: PHASES[index] as Phase, to: phase, micros: median(complete.map((marks) => (marks[phase] - marks[PHASES[index] as Phase]) * 1000)) }));
  process.send?.({ timeline: { requests: complete.length, steps } });
});
