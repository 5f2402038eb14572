import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_DIST, DRY_RUN_RULE_ID, startConsoleGateway, type ConsoleGateway } from '../helpers/console-gateway.ts';

const CHROMIUM = '/usr/bin/chromium';
// Flags from the machine notes: as root Chromium needs --no-sandbox; the background-networking
// flags keep it from dialling out on a closed network.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts');

const CONSOLE_SOURCES = resolve(import.meta.dirname, '../../console');

/** True when console/dist is missing or older than any console source file. */
function consoleBuildIsStale(): boolean {
  const index = join(CONSOLE_DIST, 'index.html');
  if (!existsSync(index)) return true;
  const built = statSync(index).mtimeMs;
  const sources = [join(CONSOLE_SOURCES, 'index.html'), join(CONSOLE_SOURCES, 'vite.config.ts'), ...readdirSync(join(CONSOLE_SOURCES, 'src'), { recursive: true, encoding: 'utf8' }).map((file) => join(CONSOLE_SOURCES, 'src', file))];
  return sources.some((file) => statSync(file).mtimeMs > built);
}

let gateway: ConsoleGateway;
let browser: Browser;
let page: Page;

const money = (value: number) => new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 2 }).format(value);

async function shot(name: string) {
  await page.screenshot({ path: join(ARTIFACTS, `console-${name}.png`), fullPage: true });
}

async function signIn(token: string) {
  await page.goto(`${gateway.url}/console/`);
  await page.evaluate(() => sessionStorage.clear());
  await page.reload();
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('navigation', { name: 'pages' }).waitFor();
}

/** Opens a console page freshly (a hash change alone would keep the page's loaded data). */
async function open(path: string) {
  await page.goto(`${gateway.url}/console/#/${path}`);
  await page.reload();
}

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(`${gateway.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${gateway.tokens.admin}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (see .ci/run)`);
  if (consoleBuildIsStale()) execFileSync(process.execPath, [resolve(import.meta.dirname, '../../console/build-console.mjs')], { stdio: 'inherit' });
  mkdirSync(ARTIFACTS, { recursive: true });
  gateway = await startConsoleGateway();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  const context = await browser.newContext({ viewport: { width: 1366, height: 800 }, colorScheme: 'light', acceptDownloads: true });
  page = await context.newPage();
  page.on('pageerror', (error) => console.error('page error:', error.message));
  page.on('console', (message) => message.type() === 'error' && console.error('console error:', message.text()));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.close();
});

describe('console in Chromium against the embedded gateway', () => {
  it('refuses a wrong token and signs in with the admin token', async () => {
    await page.goto(`${gateway.url}/console/`);
    await page.getByLabel('Admin token').fill('not-a-real-token-at-all');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/admin/i);
    await shot('sign-in-refused');
    await signIn(gateway.tokens.admin);
    expect(await page.evaluate(() => Object.keys(sessionStorage))).toContain('gatehouse.console.session');
  });

  it('charts spend vs budget per cost center and developer from the seeded spans', async () => {
    await open('spend');
    const centers = page.getByRole('table', { name: 'cost centers' });
    await centers.getByRole('row', { name: /platform/ }).waitFor();
    const platformRow = await centers.getByRole('row', { name: /platform/ }).textContent();
    expect(platformRow).toContain(money(gateway.seeded.todaySpendByCenter.platform ?? 0));
    expect(platformRow).toContain(money(0.8)); // the policy's daily cost-center budget
    const charts = page.locator('figure.chart .chart-canvas');
    await expect.poll(() => charts.count()).toBe(2);
    expect(await page.locator('figure.chart canvas').count()).toBe(2);
    expect(await charts.first().getAttribute('data-points')).toBe('30');
    const legend = await page.locator('figure.chart').first().locator('.u-legend').textContent();
    expect(legend).toContain('platform');
    expect(legend).toContain('platform daily budget');
    const developers = page.getByRole('table', { name: 'developers' });
    await developers.getByRole('row', { name: /alice/ }).waitFor();
    expect(await developers.getByRole('row').count()).toBe(6); // header + five developers
    await shot('spend-light');
    await page.getByRole('button', { name: /switch to dark theme/ }).click();
    await expect.poll(() => page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await shot('spend-dark');
    await page.getByRole('button', { name: /switch to light theme/ }).click();
  });

  it('keeps a budget far above the spend off the spend scale and fits the axis labels', async () => {
    await open('spend');
    const canvas = page.locator('figure.chart .chart-canvas').first();
    await expect.poll(() => canvas.getAttribute('data-y-max')).toBeTruthy();
    // research's $2,000 daily budget is named under the chart, not drawn: the scale follows the spend.
    const offScale = page.getByRole('list', { name: 'off-scale references' }).first();
    expect(await offScale.textContent()).toMatch(/research daily budget: \$2,000\.00, above this scale \(peak \$\d+\.\d+/);
    // The chart may draw once before the references are sorted into drawn and off-scale: wait for its last drawing.
    await expect.poll(async () => Number(await canvas.getAttribute('data-y-max'))).toBeLessThan(20);
    const legend = await page.locator('figure.chart').first().locator('.u-legend').textContent();
    expect(legend).toContain('platform daily budget'); // $0.80 is within reach of the spend: drawn
    expect(legend).not.toContain('research daily budget');
    // The y axis is as wide as its widest label plus tick and gap, so the "$" is never cut.
    const labelPx = Number(await canvas.getAttribute('data-y-label-px'));
    expect(labelPx).toBeGreaterThan(0);
    expect(Number(await canvas.getAttribute('data-y-axis-px'))).toBeGreaterThanOrEqual(labelPx + 15);
    await page.locator('figure.chart').first().screenshot({ path: join(ARTIFACTS, 'console-spend-chart.png') });
  });

  it('shows quality per cost center and per developer beside spend, following the period selector', async () => {
    await open('spend');
    const centers = page.getByRole('table', { name: 'quality per cost center' });
    await centers.getByRole('row', { name: /research/ }).waitFor();
    const headers = await centers.locator('th').allTextContents();
    expect(headers).toEqual(['Cost center', 'Spend', 'Turns', 'Per turn', 'Tool-use accuracy', 'Task completion', 'Code correctness']);
    const cells = async (table: string, name: RegExp) => page.getByRole('table', { name: table }).getByRole('row', { name }).locator('td').allTextContents();
    const expected = gateway.seeded.quality;
    for (const center of ['platform', 'research']) {
      const row = await cells('quality per cost center', new RegExp(center));
      expect(row.slice(4)).toEqual(['tool_use_accuracy', 'task_completion', 'code_correctness'].map((scorer) => (expected[center]?.[scorer] ?? NaN).toFixed(3)));
    }
    const developers = page.getByRole('table', { name: 'quality per developer' });
    await developers.getByRole('row', { name: /erin/ }).waitFor();
    expect(await developers.locator('tbody tr').count()).toBe(5);
    expect((await cells('quality per developer', /erin/))[6]).toBe('0.500');
    expect((await cells('quality per developer', /alice/))[6]).toBe('0.900');
    const turnsIn30 = Number((await cells('quality per developer', /alice/))[2]);
    await page.getByLabel('period').selectOption('7');
    await page.getByRole('heading', { name: 'Quality and spend per developer, last 7 days' }).waitFor();
    await expect.poll(async () => Number((await cells('quality per developer', /alice/))[2])).toBeLessThan(turnsIn30);
    await developers.scrollIntoViewIfNeeded();
    await shot('spend-quality');
    await page.getByLabel('period').selectOption('30');
  });

  it('lets an admin create, update, rotate and revoke a key, showing each secret once', async () => {
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gateway.url });
    await open('keys');
    const form = page.getByRole('form', { name: 'create key' });
    await form.getByLabel('Developer').fill('frank');
    await form.getByLabel('Cost center').selectOption('platform');
    await form.getByLabel('Tags (comma-separated)').fill('team:web, oncall');
    await form.getByLabel('Daily budget (USD)').fill('2.5');
    await form.getByLabel('Requests per minute').fill('30');
    await form.getByRole('button', { name: 'Create key' }).click();
    const panel = page.getByRole('status', { name: 'new secret' });
    await panel.waitFor();
    const secret = (await panel.locator('code.secret').textContent()) ?? '';
    expect(secret.length).toBeGreaterThan(20);
    await panel.getByRole('button', { name: 'Copy secret' }).click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    // The secret works at the gateway: the key is real.
    const listed = await api<{ keys: { id: string; developer: string; key_prefix: string; tags: string[]; budgets: { daily_usd?: number } | null; limits: { rpm?: number } | null }[] }>('/admin/keys');
    const frank = listed.keys.find((key) => key.developer === 'frank');
    expect(frank?.tags).toEqual(['team:web', 'oncall']);
    expect(frank?.budgets?.daily_usd).toBe(2.5);
    expect(frank?.limits?.rpm).toBe(30);
    expect(secret.startsWith(frank?.key_prefix ?? '?')).toBe(true);
    const keys = page.getByRole('table', { name: 'keys' });
    const row = keys.getByRole('row', { name: /frank/ });
    expect(await row.textContent()).toContain('30 rpm');
    expect(await form.getByLabel('Developer').inputValue()).toBe(''); // the form is ready for the next key
    await shot('keys-created');
    await panel.getByRole('button', { name: 'Done' }).click();
    expect(await page.content()).not.toContain(secret);

    await row.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('form', { name: `edit key ${frank?.id}` });
    await edit.getByLabel('Daily budget (USD)').fill('');
    await edit.getByLabel('Tokens per minute').fill('50000');
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => row.textContent()).toContain('50000 tpm');
    const updated = (await api<{ keys: { id: string; budgets: unknown; limits: { rpm?: number; tpm?: number } | null }[] }>('/admin/keys')).keys.find((key) => key.id === frank?.id);
    expect(updated?.budgets).toBeNull();
    expect(updated?.limits).toEqual({ rpm: 30, tpm: 50000 });

    await row.getByLabel('grace period').selectOption('0');
    await row.getByRole('button', { name: 'Rotate' }).click();
    await expect.poll(async () => (await panel.textContent()) ?? '').toContain('rotated');
    const rotated = (await panel.locator('code.secret').textContent()) ?? '';
    expect(rotated).not.toBe(secret);
    await panel.getByRole('button', { name: 'Done' }).click();
    await open('keys');
    await keys.getByRole('row', { name: /frank/ }).waitFor();
    const html = await page.content();
    expect(html).not.toContain(secret);
    expect(html).not.toContain(rotated);

    await keys.getByRole('row', { name: /frank/ }).getByRole('button', { name: 'Revoke' }).click();
    await keys.getByRole('row', { name: /frank/ }).getByRole('button', { name: 'Confirm revoke' }).click();
    await expect.poll(() => keys.getByRole('row', { name: /frank/ }).locator('.badge').textContent()).toBe('revoked');
    expect(await keys.getByRole('row', { name: /frank/ }).getByRole('button').count()).toBe(0);
    await shot('keys-admin');
  });

  it('shows prompt-cache hit rate, cost and quality per model, and provider hops', async () => {
    await open('cache');
    const cache = page.getByRole('table', { name: 'cache hit rate' });
    await cache.getByRole('row', { name: /erin/ }).waitFor();
    expect(await cache.getByRole('row', { name: /erin/ }).locator('strong.bad').count()).toBe(1); // erin's 15% hit rate is flagged
    await shot('cache');

    await open('models');
    const models = page.getByRole('table', { name: 'models' });
    await models.getByRole('row', { name: /gpt-5\.1-mini/ }).waitFor();
    await expect.poll(() => models.locator('th').allTextContents()).toContain('task completion');
    const miniRow = await models.getByRole('row', { name: /gpt-5\.1-mini/ }).locator('td').allTextContents();
    const score = Number(miniRow.at(-1));
    expect(score).toBeGreaterThan(0.6);
    expect(score).toBeLessThan(0.9);
    await shot('models');

    await open('hops');
    const routes = page.getByRole('table', { name: 'hop routes' });
    await routes.getByRole('row', { name: /claude-sonnet-4\.5/ }).first().waitFor();
    const recent = page.getByRole('table', { name: 'recent hops' });
    expect(await recent.textContent()).toContain('openai/gpt-5.5 429 → anthropic/claude-sonnet-4.5 200');
    await shot('hops');
  });

  it('approves a proposal by signing its digest with Ed25519 in the browser', async () => {
    const created = await api<{ id: string; digest: string }>('/admin/policy/proposals', {
      method: 'POST',
      body: JSON.stringify({ patch: { cost_centers: { research: { budgets: { developer: { daily_usd: 0.5 } } } } }, justification: 'research runs longer agent sessions', author: 'console-test' }),
    });
    await signIn(gateway.tokens.approver);
    await open('proposals');
    const card = page.locator(`article[data-proposal-id="${created.id}"]`);
    await card.waitFor();
    expect(await card.locator('pre.diff').textContent()).toContain('cost_centers.research.budgets.developer.daily_usd');
    await card.getByLabel('Private key (PKCS#8 PEM)').fill(gateway.approver.privateKeyPem);
    await shot('proposal-pending');
    await card.getByRole('button', { name: 'Sign and approve' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toMatch(new RegExp(`Approved ${created.id} as dana: policy version 2`));
    const active = await api<{ version: number; approved_by: string; document: { cost_centers: { research: { budgets: { developer: { daily_usd: number } } } } } }>('/admin/policy');
    expect(active.version).toBe(2);
    expect(active.document.cost_centers.research.budgets.developer.daily_usd).toBe(0.5);
    await shot('proposal-approved');
  });

  it('shows an optimizer proposal with its math and the dry-run results of its rule', async () => {
    const proposal = await gateway.running.governance.service.createProposal({
      patch: {
        rules: [
          { id: DRY_RUN_RULE_ID, cost_centers: ['platform'], when: { requested_models: ['gpt-5.5'], input_tokens: { max: 8000 } }, route_to: 'gpt-5.1-mini', dry_run: true },
        ],
      },
      justification: 'seven days of dry run on platform',
      author: 'optimizer',
      source: 'optimizer',
      summary: 'for platform, route gpt-5.5 turns under 8K input tokens to gpt-5.1-mini: regression 0.40%, saving $3,840.00/month',
      math: {
        requestedModel: 'gpt-5.5',
        targetModel: 'gpt-5.1-mini',
        thresholdTokens: 8000,
        predictedMonthlySavingUsd: 3840,
        predictedRegression: { mean: 0.004, standardDeviation: 0.002, upperBound: 0.0045, credibleLevel: 0.95, limit: 0.005 },
        baselineQuality: { mean: 0.9, lower: 0.88, upper: 0.92 },
        trafficShare: 0.31,
        samples: { baselineScoredTurns: 400, targetScoredTurns: 120, affectedTurns: 930 },
      },
    });
    await open('proposals');
    const card = page.locator(`article[data-proposal-id="${proposal.id}"]`);
    await card.waitFor();
    expect(await card.locator('.badge').allTextContents()).toEqual(['pending', 'optimizer']);
    expect(await card.locator('.math .headline').textContent()).toMatch(/saving \$3,840\.00\/month · predicted regression 0\.40% \(upper bound 0\.45% at 95%; limit 0\.50%\) · 31\.0% of the cost center's turns \(930\)/);
    expect(await card.locator('.math dl').textContent()).toContain('baseline quality0.9 [0.88 – 0.92]');
    const traffic = card.getByRole('table', { name: 'dry-run traffic' });
    await traffic.waitFor();
    expect(await traffic.getByRole('row', { name: new RegExp(DRY_RUN_RULE_ID) }).locator('td').nth(1).textContent()).toBe(String(gateway.seeded.dryRunTurns));
    await card.getByRole('table', { name: 'dry-run quality' }).getByRole('row', { name: /task completion/ }).waitFor();
    await card.scrollIntoViewIfNeeded();
    await shot('proposal-optimizer');
  });

  it('rejects a proposal with a reason and lists the policy history', async () => {
    const created = await api<{ id: string }>('/admin/policy/proposals', {
      method: 'POST',
      body: JSON.stringify({ patch: { cost_centers: { platform: { retry_cap: 9 } } }, justification: 'let agents retry more', author: 'console-test' }),
    });
    await open('proposals');
    const card = page.locator(`article[data-proposal-id="${created.id}"]`);
    await card.getByLabel('Reason').fill('retry storms cost more than they fix');
    await card.getByRole('button', { name: 'Reject' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain(`Rejected ${created.id}`);
    const rejected = await api<{ proposals: { id: string }[] }>('/admin/policy/proposals?status=rejected');
    expect(rejected.proposals.map((proposal) => proposal.id)).toContain(created.id);

    await open('policy');
    const versions = page.getByRole('table', { name: 'policy versions' });
    await versions.getByRole('row', { name: /v2/ }).waitFor();
    expect(await versions.getByRole('row', { name: /v2/ }).textContent()).toContain('dana');
    // One active badge: the version the approval replaced shows as superseded.
    expect(await versions.getByRole('row', { name: /v2/ }).locator('.badge').textContent()).toBe('active');
    expect(await versions.getByRole('row', { name: /v1/ }).locator('.badge').textContent()).toBe('superseded');
    await shot('policy-history');
  });

  it('finds the approval in the audit log and exports it as JSON Lines', async () => {
    await open('audit');
    await page.getByRole('table', { name: 'audit events' }).waitFor();
    await page.locator('select[name="action"]').selectOption('policy.approved');
    await page.getByRole('button', { name: 'Apply' }).click();
    const events = page.getByRole('table', { name: 'audit events' });
    // The unfiltered table may already list a policy.approved row: wait until the filter has replaced it, every row matching.
    const filtered = async () => {
      const texts = await events.locator('tbody tr').allTextContents();
      return texts.length > 0 && texts.every((row) => row.includes('policy.approved'));
    };
    await expect.poll(filtered).toBe(true);
    const rows = await events.locator('tbody tr').allTextContents();
    expect(rows.every((row) => row.includes('policy.approved'))).toBe(true);
    expect(rows.join('\n')).toContain('dana');
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toMatch(/Audit chain verified: \d+ event/);
    await shot('audit');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export JSON Lines' }).click()]);
    const file = await download.path();
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { action: string });
    expect(lines.map((line) => line.action)).toEqual(expect.arrayContaining(['policy.proposed', 'policy.approved', 'policy.rejected']));
  });

  it('lets an analyst read but not decide', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(gateway.tokens.analyst);
    const created = await api<{ id: string }>('/admin/policy/proposals', {
      method: 'POST',
      body: JSON.stringify({ patch: { cost_centers: { platform: { retry_cap: 4 } } }, justification: 'one more retry', author: 'console-test' }),
    });
    await open('proposals');
    const card = page.locator(`article[data-proposal-id="${created.id}"]`);
    await card.waitFor();
    const role = await page.locator('.who').textContent();
    if (role?.includes('analyst')) {
      expect(await card.getByRole('button', { name: 'Sign and approve' }).count()).toBe(0);
    } else {
      // Without GET /admin/whoami the console cannot know the role; the server still refuses.
      await card.getByLabel('Private key (PKCS#8 PEM)').fill(gateway.approver.privateKeyPem);
      await card.getByRole('button', { name: 'Sign and approve' }).click();
      await expect.poll(() => card.getByRole('alert').textContent()).toMatch(/approver or higher/);
    }
    await shot('analyst-proposals');
  });

  it('shows the keys to an analyst read-only, without action buttons or secrets', async () => {
    await open('keys');
    const keys = page.getByRole('table', { name: 'keys' });
    await keys.getByRole('row', { name: /frank/ }).waitFor();
    expect(await page.locator('.who').textContent()).toContain('analyst');
    expect(await page.getByRole('form', { name: 'create key' }).count()).toBe(0);
    expect(await keys.getByRole('button').count()).toBe(0);
    expect(await keys.locator('th').allTextContents()).not.toContain('Actions');
    expect(await page.getByText(/Read-only/).textContent()).toContain('analyst');
    expect(await keys.getByRole('row', { name: /alice/ }).textContent()).toContain('bootstrap');
    await shot('keys-analyst');
  });
});
