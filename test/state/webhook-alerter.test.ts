import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookAlerter } from '../../gateway/alerts/webhook-alerter.ts';
import { budgetAlertEvent } from '../../gateway/alerts/budget-alert-event.ts';
import { budgetScopesFor } from '../../gateway/state/budget-periods.ts';

const servers: FastifyInstance[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

interface Received {
  body: Record<string, unknown>;
  eventId: string;
}

/** A receiver that fails `failures` times (500), then answers 200 and records what it accepted. */
async function receiver(failures: number, status = 500) {
  const app = Fastify();
  const accepted: Received[] = [];
  let calls = 0;
  app.post('/hook', async (request, reply) => {
    calls++;
    if (calls <= failures) return reply.code(status).send({ error: 'not now' });
    accepted.push({ body: request.body as Record<string, unknown>, eventId: String(request.headers['x-gatehouse-event-id']) });
    return { ok: true };
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  servers.push(app);
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/hook`, accepted, calls: () => calls };
}

describe('WebhookAlerter', () => {
  it('retries until the receiver answers 200, and the alert is received once', async () => {
    const hook = await receiver(3);
    const errors: unknown[] = [];
    const alerter = new WebhookAlerter({ url: hook.url, initialDelayMillis: 20, maxDelayMillis: 100, onError: (error) => errors.push(error) });
    const [scope] = budgetScopesFor({
      developer: 'alice',
      costCenter: 'platform',
      keyId: 'k1',
      policyCostCenter: { budgets: { developer: { daily_usd: 10 } } },
      now: Date.parse('2026-11-28T10:00:00Z'),
    });
    const event = budgetAlertEvent(
      { scopeId: scope!.id, stage: 'alert', scope: scope!, spendUsd: 8.1234567, limitUsd: 10, ratio: 0.81234567 },
      { costCenter: 'platform', developer: 'alice', thresholds: { alert: 0.8, downgrade: 0.95, pause: 1.1 }, now: new Date('2026-11-28T10:00:00Z') },
    );
    // Never on the request path: send() returns before any delivery attempt has even started.
    expect(alerter.send(event)).toBeUndefined();
    expect(alerter.stats()).toMatchObject({ queued: 1, inFlight: 0 });
    await alerter.flush();
    expect(hook.calls()).toBe(4);
    expect(hook.accepted).toHaveLength(1);
    expect(hook.accepted[0]!.body).toEqual({
      event: 'budget.alert',
      cost_center: 'platform',
      developer: 'alice',
      ts: '2026-11-28T10:00:00.000Z',
      scope: 'dev:alice:daily:2026-11-28',
      budget: 'developer',
      subject: 'alice',
      period: 'daily',
      spend_usd: 8.123457,
      limit_usd: 10,
      ratio: 0.812346,
      threshold: 0.8,
      resets_at: '2026-11-29T00:00:00.000Z',
      time_zone: 'UTC',
    });
    expect(errors).toHaveLength(3);
    expect(alerter.stats()).toMatchObject({ delivered: 1, failed: 0, attempts: 4, queued: 0, inFlight: 0 });
    await alerter.close();
  });

  it('gives up after maxAttempts, does not retry a 4xx, and never throws', async () => {
    const down = await receiver(100);
    const alerter = new WebhookAlerter({ url: down.url, maxAttempts: 3, initialDelayMillis: 5 });
    alerter.send({ event: 'provider.hop', cost_center: 'platform' });
    await alerter.flush();
    expect(down.calls()).toBe(3);
    const rejecting = await receiver(100, 400);
    const strict = new WebhookAlerter({ url: rejecting.url, maxAttempts: 3, initialDelayMillis: 5 });
    strict.send({ event: 'budget.pause', cost_center: 'platform' });
    await strict.flush();
    expect(rejecting.calls()).toBe(1);
    const nowhere = new WebhookAlerter({ url: 'http://127.0.0.1:1/hook', maxAttempts: 2, initialDelayMillis: 5 });
    nowhere.send({ event: 'budget.alert', cost_center: 'x' });
    await nowhere.flush();
    expect(nowhere.stats()).toMatchObject({ delivered: 0, failed: 1, attempts: 2 });
    const off = new WebhookAlerter({ url: () => undefined });
    off.send({ event: 'budget.alert' });
    expect(off.stats().queued + off.stats().inFlight).toBe(0);
    await Promise.all([alerter.close(), strict.close(), nowhere.close(), off.close()]);
  });

  it('close() cuts retry waits short', async () => {
    const down = await receiver(100);
    const alerter = new WebhookAlerter({ url: down.url, initialDelayMillis: 60_000, maxDelayMillis: 60_000 });
    alerter.send({ event: 'budget.alert', cost_center: 'platform' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    await alerter.close(10_000);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(alerter.stats()).toMatchObject({ failed: 1, inFlight: 0 });
  });
});
