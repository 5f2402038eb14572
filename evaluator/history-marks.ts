import { createHash } from 'node:crypto';
import type { TurnRecord } from '../shared/telemetry/turn-record.ts';
import { itemsOf } from '../shared/tool-signals/read-history.ts';

/** Where a session's history ended at its last handed-over turn. */
export interface HistoryMark {
  key: string;
  /** Items in that request's history. */
  count: number;
  /** Hash of its last item. */
  digest: string;
}

/**
 * Where each session's resent history was last read, so the evaluator's extraction reads only what
 * a turn adds. Codex (like Chat and Anthropic clients) resends the whole conversation every turn: a
 * 200 KB history is ~250 items, each parsed and classified again per turn although the results in
 * them were extracted, and recorded in session state, when they were new.
 *
 * A mark is the item count of the session's previous request and a hash of its last item. The next
 * request resumes there only when its item at that position hashes the same; a shorter history
 * (compacted, edited, another client under the same session id) or a different item is read whole,
 * as is the first turn this process sees of a session. The caller remembers a mark once the turn's
 * job is enqueued, so a turn that was never enqueued leaves its results to the next one. At most
 * `capacity` sessions are kept, the least recently used dropped first.
 */
export class HistoryMarks {
  private readonly marks = new Map<string, { count: number; digest: string }>();
  private readonly capacity: number;

  constructor(capacity = 20_000) {
    this.capacity = capacity;
  }

  /** The first history item this turn's extraction needs (0: all), and the mark it leaves (undefined: sessionless). */
  resume(record: TurnRecord): { fromItem: number; mark: HistoryMark | undefined } {
    if (record.span.session_id === '') return { fromItem: 0, mark: undefined };
    const key = `${record.span.cost_center}\u0000${record.inbound}\u0000${record.span.session_id}`;
    const { items } = itemsOf(record.body);
    const mark = { key, count: items.length, digest: items.length > 0 ? digestOf(items[items.length - 1]) : '' };
    const previous = this.marks.get(key);
    if (previous === undefined || previous.count === 0 || previous.count > items.length) return { fromItem: 0, mark };
    const same = previous.count === items.length ? mark.digest : digestOf(items[previous.count - 1]);
    return { fromItem: same === previous.digest ? previous.count : 0, mark };
  }

  remember(mark: HistoryMark): void {
    this.marks.delete(mark.key);
    this.marks.set(mark.key, { count: mark.count, digest: mark.digest });
    if (this.marks.size > this.capacity) this.marks.delete(this.marks.keys().next().value as string);
  }

  get size(): number {
    return this.marks.size;
  }
}

function digestOf(item: unknown): string {
  return createHash('sha1').update(JSON.stringify(item) ?? '').digest('base64');
}
