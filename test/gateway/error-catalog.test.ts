import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../../gateway/errors/error-codes.ts';

describe('error catalog', () => {
  const page = readFileSync(new URL('../../gateway/errors/ERRORS.md', import.meta.url), 'utf8');
  const documented = new Map([...page.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((match) => [match[1], Number(match[2])]));

  it('documents every code with its status, and nothing that is not in the catalog', () => {
    for (const [code, entry] of Object.entries(ERROR_CODES)) expect(documented.get(code), code).toBe(entry.status);
    for (const code of documented.keys()) expect(Object.keys(ERROR_CODES)).toContain(code);
  });

  it('keeps the contract codes and statuses fixed', () => {
    expect(ERROR_CODES.invalid_api_key.status).toBe(401);
    expect(ERROR_CODES.model_not_allowed.status).toBe(403);
    expect(ERROR_CODES.provider_not_allowed.status).toBe(403);
    expect(ERROR_CODES.budget_exhausted.status).toBe(429);
    expect(ERROR_CODES.retry_limit_exceeded.status).toBe(429);
    expect(ERROR_CODES.invalid_request.status).toBe(400);
    expect(ERROR_CODES.payload_too_large.status).toBe(413);
    expect(ERROR_CODES.upstream_error.status).toBe(502);
    expect(ERROR_CODES.no_healthy_upstream.status).toBe(503);
    expect(ERROR_CODES.upstream_timeout.status).toBe(504);
  });
});
