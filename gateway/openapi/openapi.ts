import type { FastifyInstance, RouteOptions } from 'fastify';
import swagger from '@fastify/swagger';
import fp from 'fastify-plugin';
import { z } from 'zod';
import { ApproveBody, ProposalBody, RejectBody, RollbackBody } from '../admin/governance-routes.ts';
import { CreateKeyBody } from '../admin/key-routes.ts';

/**
 * The OpenAPI 3.1 description of every route, served at GET /openapi.json. Request bodies come from the
 * zod schemas the handlers validate with (z.toJSONSchema, draft 2020-12 — OpenAPI 3.1's own dialect),
 * so the document cannot drift from what is enforced. The schemas are documentation only: handlers
 * keep validating with zod and answering with the error catalog, so Fastify's own validation and
 * response serialisation stay off (setValidatorCompiler/setSerializerCompiler below).
 */

type Role = 'client' | 'analyst' | 'approver' | 'admin' | 'none';

interface RouteDoc {
  summary: string;
  tags: string[];
  role: Role;
  body?: z.ZodType | Record<string, unknown>;
  description?: string;
}

const json = (schema: z.ZodType): Record<string, unknown> => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

/** Client request bodies are each protocol's own (the gateway forwards what it does not read). */
const clientBody = (protocol: string, link: string) => ({
  type: 'object',
  required: ['model'],
  additionalProperties: true,
  properties: { model: { type: 'string', description: 'a model name of the policy (GET /v1/models lists the ones this key may use)' }, stream: { type: 'boolean' } },
  description: `${protocol} request body, see ${link}`,
});

const ROUTE_DOCS: Record<string, RouteDoc> = {
  'POST /v1/responses': { summary: 'OpenAI Responses API (what Codex CLI uses), streaming and not', tags: ['client'], role: 'client', body: clientBody('OpenAI Responses', 'https://platform.openai.com/docs/api-reference/responses') },
  'POST /v1/responses/compact': { summary: 'Codex remote compaction, passed to an OpenAI Responses upstream', tags: ['client'], role: 'client', body: clientBody('OpenAI Responses compact', 'https://platform.openai.com/docs/api-reference/responses') },
  'POST /v1/chat/completions': { summary: 'OpenAI Chat Completions, streaming and not', tags: ['client'], role: 'client', body: clientBody('OpenAI Chat Completions', 'https://platform.openai.com/docs/api-reference/chat') },
  'POST /v1/messages': { summary: 'Anthropic Messages (Claude Code), streaming and not; x-api-key is accepted too', tags: ['client'], role: 'client', body: clientBody('Anthropic Messages', 'https://docs.anthropic.com/en/api/messages') },
  'GET /v1/models': { summary: 'The models this virtual key may use', tags: ['client'], role: 'client' },
  'GET /v1/responses': { summary: 'WebSocket upgrade attempts get 426: use HTTP POST', tags: ['client'], role: 'client' },
  'GET /healthz': { summary: 'Process up', tags: ['operations'], role: 'none' },
  'GET /readyz': { summary: 'Storage reachable and policy loaded', tags: ['operations'], role: 'none' },
  'GET /metrics': { summary: 'Prometheus metrics', tags: ['operations'], role: 'none' },
  'GET /openapi.json': { summary: 'This document', tags: ['operations'], role: 'none' },
  'POST /admin/keys': { summary: 'Create a virtual key (the key is shown once; only its hash is stored)', tags: ['keys'], role: 'admin', body: CreateKeyBody },
  'GET /admin/keys': { summary: 'List virtual keys (never their secrets)', tags: ['keys'], role: 'analyst' },
  'DELETE /admin/keys/:id': { summary: 'Revoke a virtual key', tags: ['keys'], role: 'admin' },
  'GET /admin/models': { summary: 'Models of the active policy with their prices and where each price came from', tags: ['models'], role: 'analyst' },
  'GET /admin/policy': { summary: 'The active policy version', tags: ['policy'], role: 'analyst' },
  'GET /admin/policy/versions': { summary: 'Every policy version with its status (active, superseded, rolled_back, refused)', tags: ['policy'], role: 'analyst' },
  'POST /admin/policy/proposals': { summary: 'Propose a policy change (document or JSON merge patch)', tags: ['policy'], role: 'admin', body: ProposalBody },
  'GET /admin/policy/proposals': { summary: 'Proposals, optionally by status', tags: ['policy'], role: 'analyst' },
  'POST /admin/policy/proposals/:id/approve': { summary: "Approve with an approver's Ed25519 signature of the proposal's digest", tags: ['policy'], role: 'approver', body: ApproveBody },
  'POST /admin/policy/proposals/:id/reject': { summary: 'Reject a proposal', tags: ['policy'], role: 'approver', body: RejectBody },
  'POST /admin/policy/rollback': { summary: 'Roll back to an earlier approved version', tags: ['policy'], role: 'admin', body: RollbackBody },
  'GET /admin/audit': { summary: 'Audit log export as JSON Lines (for a SIEM)', tags: ['audit'], role: 'analyst' },
  'GET /admin/audit/verify': { summary: 'Verify the audit hash chain against its anchored checkpoint', tags: ['audit'], role: 'analyst' },
  'POST /admin/sql': { summary: 'Read-only analyst SQL (one reading statement, sandboxed)', tags: ['analytics'], role: 'analyst', body: { type: 'object', required: ['query'], properties: { query: { type: 'string' } }, additionalProperties: false } },
  'POST /admin/optimizer/run': { summary: 'Run the optimizer now', tags: ['optimizer'], role: 'admin', body: { type: 'object', properties: { cost_center: { type: 'string' }, dry_run: { type: 'boolean' } }, additionalProperties: false } },
  'GET /admin/optimizer/status': { summary: 'What each cost center still needs before the optimizer proposes anything, what its exploration is learning, and the plans in force', tags: ['optimizer'], role: 'analyst' },
};

/** Paths that are not part of the API (the console's static files, the ClickHouse-compatible endpoint). */
const HIDDEN_PREFIXES = ['/console', '/clickhouse', '/ping', '/v1/traces'];

const SECURITY: Record<Role, Record<string, string[]>[] | undefined> = {
  client: [{ virtualKey: [] }],
  analyst: [{ adminToken: [] }],
  approver: [{ adminToken: [] }],
  admin: [{ adminToken: [] }],
  none: [],
};

function documentRoute(route: RouteOptions): void {
  const path = route.url;
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  if (HIDDEN_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`) || path.startsWith(prefix))) {
    route.schema = { ...route.schema, hide: true } as RouteOptions['schema'];
    return;
  }
  const doc = ROUTE_DOCS[`${methods[0]} ${path}`];
  const pathParams = [...path.matchAll(/:([A-Za-z_]+)/g)].map((match) => match[1]!);
  const schema: Record<string, unknown> = {
    summary: doc?.summary ?? `${methods[0]} ${path}`,
    tags: doc?.tags ?? [path.startsWith('/admin') ? 'admin' : 'other'],
    security: SECURITY[doc?.role ?? (path.startsWith('/admin') ? 'admin' : 'none')],
    ...(doc?.role && doc.role !== 'none' && doc.role !== 'client' ? { description: `Role: ${doc.role} and up.${doc.description ? ` ${doc.description}` : ''}` } : {}),
    ...(pathParams.length > 0 ? { params: { type: 'object', required: pathParams, properties: Object.fromEntries(pathParams.map((name) => [name, { type: 'string' }])) } } : {}),
    ...(doc?.body ? { body: doc.body instanceof z.ZodType ? json(doc.body) : doc.body } : {}),
    response: {
      default: { description: 'Errors follow the catalog (gateway/errors/ERRORS.md): {"error":{"type","code","message","param","request_id","policy_version"}}', type: 'object', additionalProperties: true },
    },
  };
  route.schema = { ...schema, ...route.schema } as RouteOptions['schema'];
}

/**
 * The description of every route registered after it (GET /openapi.json is served by the ops routes).
 * fastify-plugin'd because the description must see the sibling route sets: its onRoute hook, the
 * `swagger()` decorator and the describe-only compilers would otherwise stay inside this plugin's own
 * context, and the document would list none of the client, admin or ops routes.
 */
export const openApi = fp(
  async (app: FastifyInstance, options: { version: string }) => {
    // Schemas here describe; zod in the handlers validates (with the catalog's error bodies).
    app.setValidatorCompiler(() => (data) => ({ value: data }));
    app.setSerializerCompiler(() => (data) => JSON.stringify(data));
    app.addHook('onRoute', documentRoute);
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'Gatehouse', version: options.version, description: 'Self-hosted AI gateway for coding agents: the client routes (OpenAI- and Anthropic-shaped), the admin API and operations endpoints. Contract: CONTRACT.md; errors: gateway/errors/ERRORS.md.' },
        components: {
          securitySchemes: {
            virtualKey: { type: 'http', scheme: 'bearer', description: 'A virtual key (vk_…); /v1/messages also accepts it in x-api-key' },
            adminToken: { type: 'http', scheme: 'bearer', description: 'An admin token of gatehouse.yaml admin.tokens (role analyst, approver or admin)' },
          },
        },
        tags: ['client', 'keys', 'models', 'policy', 'audit', 'analytics', 'optimizer', 'operations'].map((name) => ({ name })),
      },
    });
  },
  { name: 'gatehouse-openapi' },
);
