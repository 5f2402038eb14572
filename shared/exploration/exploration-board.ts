import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { ExplorationPlan } from './exploration-plan.ts';

/**
 * Where the optimizer's exploration plans live between a run and the requests they steer. Every
 * gateway reads `get` once per request, synchronously, from memory: no Redis round trip on the
 * request path. Embedded, the optimizer publishes into the same process's board. Distributed, a
 * publish also writes one Redis key per cost center (expiring with the plan) and a notice on a
 * channel carrying the plan; every board applies notices as they come and re-reads the keys every
 * `refreshMillis` (a notice sent while a gateway was disconnected is not replayed by pub/sub).
 * A plan past its `expiresAt` is void wherever it is held, so an optimizer that stops publishing
 * stops exploration within one TTL, Redis or not.
 */
export interface ExplorationBoardOptions {
  redis?: Redis | undefined;
  /** @defaultValue 'gatehouse:' */
  keyPrefix?: string | undefined;
  /** The cost centers whose keys a refresh reads (the active policy's). */
  costCenters?: (() => readonly string[]) | undefined;
  /** @defaultValue 5000 */
  refreshMillis?: number | undefined;
  onError?: ((error: unknown) => void) | undefined;
  now?: (() => number) | undefined;
}

const PlanSchema = z.object({
  costCenter: z.string(),
  requestedModel: z.string(),
  routeTo: z.string(),
  share: z.number(),
  candidate: z.string(),
  reasoningEffort: z.string().optional(),
  expiresAt: z.number().optional(),
});
const NoticeSchema = z.object({ costCenter: z.string(), plan: PlanSchema.nullable() });

export class ExplorationBoard {
  private readonly plans = new Map<string, ExplorationPlan>();
  private readonly options: ExplorationBoardOptions;
  private subscriber: Redis | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;

  private constructor(options: ExplorationBoardOptions) {
    this.options = options;
  }

  private get prefix(): string {
    return this.options.keyPrefix ?? 'gatehouse:';
  }

  get channel(): string {
    return `${this.prefix}exploration:changed`;
  }

  keyOf(costCenter: string): string {
    return `${this.prefix}exploration:plan:${costCenter}`;
  }

  /** Opens a board; with Redis it subscribes and reads the current plans before resolving. */
  static async open(options: ExplorationBoardOptions = {}): Promise<ExplorationBoard> {
    const board = new ExplorationBoard(options);
    const redis = options.redis;
    if (!redis) return board;
    // A subscriber must queue its SUBSCRIBE until connected, whatever the parent client's settings.
    board.subscriber = redis.duplicate({ enableOfflineQueue: true, commandTimeout: undefined, maxRetriesPerRequest: null });
    board.subscriber.on('message', (channel: string, message: string) => {
      if (channel === board.channel) board.applyNotice(message);
    });
    board.subscriber.on('error', (error: unknown) => options.onError?.(error));
    await board.subscriber.subscribe(board.channel);
    await board.refresh();
    board.refreshTimer = setInterval(() => void board.refresh(), options.refreshMillis ?? 5000);
    board.refreshTimer.unref();
    return board;
  }

  /** The plan in force for `costCenter`, or undefined (none, or expired). Runs per request. */
  get(costCenter: string): ExplorationPlan | undefined {
    const plan = this.plans.get(costCenter);
    if (plan === undefined) return undefined;
    if (plan.expiresAt !== undefined && (this.options.now ?? Date.now)() >= plan.expiresAt) {
      this.plans.delete(costCenter);
      return undefined;
    }
    return plan;
  }

  /** Every plan in force (status views). */
  all(): ExplorationPlan[] {
    return [...this.plans.keys()].map((name) => this.get(name)).filter((plan): plan is ExplorationPlan => plan !== undefined);
  }

  /** Sets (or with undefined, ends) the plan of `costCenter` here and, distributed, for every gateway. */
  async publish(costCenter: string, plan: ExplorationPlan | undefined): Promise<void> {
    this.setLocal(costCenter, plan);
    const redis = this.options.redis;
    if (!redis) return;
    const key = this.keyOf(costCenter);
    const ttl = plan?.expiresAt === undefined ? undefined : Math.max(1, plan.expiresAt - (this.options.now ?? Date.now)());
    if (plan === undefined) await redis.del(key);
    else if (ttl === undefined) await redis.set(key, JSON.stringify(plan));
    else await redis.set(key, JSON.stringify(plan), 'PX', ttl);
    await redis.publish(this.channel, JSON.stringify({ costCenter, plan: plan ?? null }));
  }

  /** Re-reads every cost center's key (start-up, and a notice missed while disconnected). */
  async refresh(): Promise<void> {
    const redis = this.options.redis;
    const names = [...(this.options.costCenters?.() ?? [])];
    if (!redis || names.length === 0) return;
    try {
      const values = await redis.mget(...names.map((name) => this.keyOf(name)));
      names.forEach((name, index) => {
        const value = values[index];
        this.setLocal(name, value === null || value === undefined ? undefined : this.parsePlan(value));
      });
    } catch (error) {
      this.options.onError?.(error); // keep the plans held: they expire on their own
    }
  }

  private parsePlan(text: string): ExplorationPlan | undefined {
    try {
      const parsed = PlanSchema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data;
    } catch {
      // reported below
    }
    this.options.onError?.(new Error(`unreadable exploration plan in Redis: ${text.slice(0, 200)}`));
    return undefined;
  }

  private applyNotice(message: string): void {
    let notice: z.infer<typeof NoticeSchema> | undefined;
    try {
      const parsed = NoticeSchema.safeParse(JSON.parse(message));
      if (parsed.success) notice = parsed.data;
    } catch {
      // reported below
    }
    if (notice === undefined) {
      this.options.onError?.(new Error(`unreadable exploration notice: ${message.slice(0, 200)}`));
      return;
    }
    this.setLocal(notice.costCenter, notice.plan ?? undefined);
  }

  private setLocal(costCenter: string, plan: ExplorationPlan | undefined): void {
    if (plan === undefined) this.plans.delete(costCenter);
    else this.plans.set(costCenter, plan);
  }

  async close(): Promise<void> {
    clearInterval(this.refreshTimer);
    if (this.subscriber) {
      await this.subscriber.quit().catch(() => undefined);
      this.subscriber = undefined;
    }
  }
}
