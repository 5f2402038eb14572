import { randomUUID } from 'node:crypto';
import { request, type Dispatcher } from 'undici';

/**
 * The JSON body of an alert (CONTRACT.md "Alerts"): `event`, `cost_center`, `developer` where it
 * applies, `ts`, and the numbers behind it.
 */
export interface AlertEvent {
  /** `budget.alert`, `budget.downgrade`, `budget.pause`, `provider.hop`, `policy.rolled_back`, … */
  event: string;
  cost_center?: string | undefined;
  developer?: string | undefined;
  /** ISO 8601; filled in by `send` when absent. */
  ts?: string | undefined;
  [field: string]: unknown;
}

export interface WebhookAlerterOptions {
  /** Policy `alerts.webhook_url`; a function so a hot-loaded policy takes effect. Undefined = alerts off. */
  url: string | undefined | (() => string | undefined);
  /** Deliveries tried per alert. @defaultValue 8 */
  maxAttempts?: number;
  /** First retry delay; doubles each attempt, with jitter. @defaultValue 500 */
  initialDelayMillis?: number;
  /** @defaultValue 30000 */
  maxDelayMillis?: number;
  /** Per attempt (headers and body). @defaultValue 5000 */
  timeoutMillis?: number;
  /** Alerts waiting or retrying; beyond it the oldest waiting one is dropped (counted). @defaultValue 1000 */
  maxQueue?: number;
  /** Deliveries in parallel. @defaultValue 4 */
  concurrency?: number;
  /** Told about failed attempts and dropped alerts (log them); never on the request path. */
  onError?: (error: unknown, event: AlertEvent, attempt: number) => void;
  /** undici dispatcher (tests, proxies). */
  dispatcher?: Dispatcher;
}

export interface WebhookAlerterStats {
  queued: number;
  inFlight: number;
  delivered: number;
  failed: number;
  dropped: number;
  attempts: number;
}

interface Job {
  id: string;
  event: AlertEvent;
  body: string;
}

/** A delivery that must not be retried (the receiver rejected the alert itself). */
class PermanentDeliveryError extends Error {}

/**
 * Posts alerts to the policy's webhook off the request path: `send` only queues and returns;
 * deliveries retry with capped exponential backoff on network errors, timeouts, 408, 429 and
 * 5xx (other 4xx are permanent), up to `maxAttempts`. Each alert carries an
 * `x-gatehouse-event-id` header that stays the same across retries, so a receiver can drop a
 * duplicate when an answer was lost. Nothing here ever throws to the caller.
 */
export class WebhookAlerter {
  private readonly options: Required<Omit<WebhookAlerterOptions, 'dispatcher' | 'onError' | 'url'>>;
  private readonly url: () => string | undefined;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly onError: (error: unknown, event: AlertEvent, attempt: number) => void;
  private readonly queue: Job[] = [];
  private readonly active = new Set<Promise<void>>();
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private readonly idleWaiters: (() => void)[] = [];
  private readonly counters = { delivered: 0, failed: 0, dropped: 0, attempts: 0 };
  private closed = false;
  private pumpScheduled = false;

  constructor(options: WebhookAlerterOptions) {
    const url = options.url;
    this.url = typeof url === 'function' ? url : () => url;
    this.dispatcher = options.dispatcher;
    this.onError = options.onError ?? (() => {});
    this.options = {
      maxAttempts: options.maxAttempts ?? 8,
      initialDelayMillis: options.initialDelayMillis ?? 500,
      maxDelayMillis: options.maxDelayMillis ?? 30_000,
      timeoutMillis: options.timeoutMillis ?? 5000,
      maxQueue: options.maxQueue ?? 1000,
      concurrency: options.concurrency ?? 4,
    };
  }

  /** Queues an alert; returns at once. Ignored when no webhook is configured or after `close`. */
  send(event: AlertEvent): void {
    if (this.closed || this.url() === undefined) return;
    const full: AlertEvent = { ...event, ts: event.ts ?? new Date().toISOString() };
    let body: string;
    try {
      body = JSON.stringify(full);
    } catch (error) {
      this.onError(error, full, 0);
      return;
    }
    if (this.queue.length + this.active.size >= this.options.maxQueue) {
      const dropped = this.queue.shift();
      this.counters.dropped++;
      if (dropped !== undefined) this.onError(new Error('alert queue full: dropped the oldest alert'), dropped.event, 0);
      else {
        this.onError(new Error('alert queue full: dropped this alert'), full, 0);
        return;
      }
    }
    this.queue.push({ id: randomUUID(), event: full, body });
    // Start deliveries on a later turn of the event loop, never inside the caller's request.
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      setImmediate(() => {
        this.pumpScheduled = false;
        this.pump();
      });
    }
  }

  /** Resolves when every queued alert was delivered or given up (retries included). */
  flush(): Promise<void> {
    if (this.queue.length === 0 && this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops accepting alerts and waits up to `timeoutMillis` for the ones in flight. */
  async close(timeoutMillis = 5000): Promise<void> {
    this.closed = true;
    // Cut retry waits short: deliveries waiting for a retry give up instead of keeping the process alive.
    for (const [pending, wake] of this.timers) {
      clearTimeout(pending);
      wake();
    }
    this.timers.clear();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flush(), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMillis)))]);
    clearTimeout(timer);
  }

  stats(): WebhookAlerterStats {
    return { queued: this.queue.length, inFlight: this.active.size, ...this.counters };
  }

  private pump(): void {
    while (this.active.size < this.options.concurrency && this.queue.length > 0) {
      const job = this.queue.shift()!;
      const delivery: Promise<void> = this.deliver(job).finally(() => {
        this.active.delete(delivery);
        this.pump();
        if (this.queue.length === 0 && this.active.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      });
      this.active.add(delivery);
    }
  }

  private async deliver(job: Job): Promise<void> {
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
      const url = this.url();
      if (url === undefined) return; // alerts switched off meanwhile
      if (attempt > 1 && this.closed) break;
      this.counters.attempts++;
      try {
        await this.post(url, job);
        this.counters.delivered++;
        return;
      } catch (error) {
        this.onError(error, job.event, attempt);
        if (error instanceof PermanentDeliveryError || attempt === this.options.maxAttempts || this.closed) break;
        await this.sleep(this.backoff(attempt));
      }
    }
    this.counters.failed++;
  }

  private async post(url: string, job: Job): Promise<void> {
    const response = await request(url, {
      method: 'POST',
      body: job.body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'gatehouse-alerts/1',
        'x-gatehouse-event-id': job.id,
        'x-gatehouse-event': job.event.event,
      },
      headersTimeout: this.options.timeoutMillis,
      bodyTimeout: this.options.timeoutMillis,
      ...(this.dispatcher === undefined ? {} : { dispatcher: this.dispatcher }),
    });
    await response.body.dump();
    const status = response.statusCode;
    if (status >= 200 && status < 300) return;
    const message = `webhook answered ${status}`;
    if (status === 408 || status === 429 || status >= 500) throw new Error(message);
    throw new PermanentDeliveryError(message);
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.options.maxDelayMillis, this.options.initialDelayMillis * 2 ** (attempt - 1));
    return base / 2 + Math.random() * (base / 2);
  }

  private sleep(millis: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, millis);
      timer.unref();
      this.timers.set(timer, resolve);
    });
  }
}
