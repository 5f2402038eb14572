import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import { renderBareErrorBody } from '../errors/render-error.ts';
import { MAX_JSON_DEPTH, readJsonBody } from '../inbound/read-json-body.ts';
import { handleTurn } from '../pipeline/handle-turn.ts';
import { authenticateClient } from '../pipeline/authenticate-client.ts';
import { modelRefusal } from '../policy/evaluate-policy.ts';
import type { InboundProtocol } from '../forward/forward-types.ts';
import { useJsonParser } from '../plugins/json-body.ts';

// The request fields the client routes set. The error handler (gateway/plugins/error-handler.ts) reads
// inbound and policyVersion to shape a failure for the caller; on other routes they stay unset.
declare module 'fastify' {
  interface FastifyRequest {
    /** The client's exact bytes: same-protocol pass-through forwards them unchanged. */
    rawBody?: Buffer;
    /** Set once the policy is known, so error bodies carry the version. */
    policyVersion?: number;
    inbound?: InboundProtocol;
  }
}

export interface ClientRoutesOptions {
  context: GatewayContext;
  /** Serve the turn routes (POST /v1/…); false in collector/evaluator/optimizer-only processes. */
  turns: boolean;
}

const TURN_ROUTES: [string, InboundProtocol][] = [
  ['/v1/responses', 'openai-responses'],
  ['/v1/chat/completions', 'openai-chat'],
  ['/v1/messages', 'anthropic-messages'],
];

function turnRoutes(app: FastifyInstance, context: GatewayContext): void {
  // One pass over the bytes, the big history parsed only where it is read (gateway/inbound/read-json-body.ts);
  // what Codex resends every turn is mostly forwarded as is, so the bytes are kept too.
  useJsonParser(app, (buffer, request) => {
    request.rawBody = buffer;
    return readJsonBody(buffer, MAX_JSON_DEPTH);
  });
  for (const [path, inbound] of TURN_ROUTES) {
    app.post(path, async (request, reply) => {
      if (request.body === undefined || request.body === null) {
        request.inbound = inbound;
        throw new GatewayError('invalid_request', { message: 'gatehouse: send a JSON body with content-type: application/json' });
      }
      await handleTurn(context, inbound, request, reply);
    });
  }
  // Codex's remote compaction of long sessions (x-codex-beta-features: remote_compaction_v2).
  app.post('/v1/responses/compact', async (request, reply) => {
    await handleTurn(context, 'openai-responses', request, reply, { upstreamPath: '/responses/compact' });
  });
}

/** Some Codex versions try a WebSocket on /v1/responses first and fall back to HTTP at once on 426. */
function refuseWebSockets(app: FastifyInstance): void {
  const onGet = renderBareErrorBody(new GatewayError('upgrade_required', { message: 'gatehouse: use HTTP POST (no WebSocket transport)' }));
  app.get('/v1/responses', async (_request, reply) => reply.code(426).header('upgrade', 'HTTP/1.1').send(onGet));
  const onUpgrade = JSON.stringify(renderBareErrorBody(new GatewayError('upgrade_required', { message: 'gatehouse: WebSocket transport is not offered; use HTTP POST' })));
  // An upgrade never reaches Fastify's router: it is answered on the raw socket.
  app.server.on('upgrade', (_request, socket) => {
    socket.end(`HTTP/1.1 426 Upgrade Required\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(onUpgrade)}\r\n\r\n${onUpgrade}`);
  });
}

function modelListRoute(app: FastifyInstance, context: GatewayContext): void {
  app.get('/v1/models', async (request) => {
    const key = authenticateClient(context, request, 'openai-responses');
    const policy = context.policy.current();
    const center = policy.document.cost_centers[key.costCenter];
    // A key narrowed to fewer models (keys update --models) lists only those.
    const models = (center?.allowed_models ?? []).filter((model) => !modelRefusal(policy.document, key.costCenter, model) && (key.allowedModels.length === 0 || key.allowedModels.includes(model)));
    return {
      object: 'list',
      data: models.map((id) => ({ id, object: 'model', created: 0, owned_by: policy.document.models[id]?.provider ?? 'gatehouse' })),
    };
  });
}

/**
 * The routes clients call: the three turn protocols (and Codex's compaction), the model list and the
 * WebSocket refusal. Encapsulated: its JSON parser, which keeps the raw bytes and reads the history
 * lazily, applies to these routes only. The model list and the refusal stay on every process, as before
 * the route sets were plugins.
 */
export async function clientRoutes(app: FastifyInstance, options: ClientRoutesOptions): Promise<void> {
  // Declared up front so every request of these routes has one shape; unset (undefined) until a turn sets them.
  for (const field of ['rawBody', 'policyVersion', 'inbound'] as const) app.decorateRequest(field, undefined);
  if (options.turns) turnRoutes(app, options.context);
  refuseWebSockets(app);
  modelListRoute(app, options.context);
}
