import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { GatewayError } from '../errors/gateway-error.ts';
import { MAX_JSON_DEPTH } from '../inbound/read-json-body.ts';

type ParseJson = (buffer: Buffer, request: FastifyRequest) => unknown;

/**
 * Whether `root` nests objects/arrays deeper than `limit`. Iterative (a hostile body cannot
 * overflow the stack here) and visits containers only, never string contents: ~0.2 ms for a
 * 1.6 MB Codex body, against ~4 ms for the JSON.parse before it.
 */
function nestsDeeperThan(root: object, limit: number): boolean {
  const stack: unknown[] = [root];
  const depths: number[] = [1];
  while (stack.length > 0) {
    const current = stack.pop() as Record<string, unknown> | unknown[];
    const depth = depths.pop() ?? 0;
    if (depth > limit) return true;
    if (Array.isArray(current)) {
      for (const child of current) {
        if (child !== null && typeof child === 'object') {
          stack.push(child);
          depths.push(depth + 1);
        }
      }
      continue;
    }
    // for…in over a parsed JSON object (own keys only) allocates nothing, unlike Object.values.
    for (const key in current) {
      const child = current[key];
      if (child !== null && typeof child === 'object') {
        stack.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}

/** Admin and operations bodies: one JSON object, no deeper than MAX_JSON_DEPTH. */
function parseJsonObject(buffer: Buffer): object {
  let parsed: unknown;
  try {
    parsed = JSON.parse(buffer.toString('utf8'));
  } catch (error) {
    throw new GatewayError('invalid_request', { message: `gatehouse: malformed JSON body: ${(error as Error).message}` });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new GatewayError('invalid_request', { message: 'gatehouse: the JSON body must be an object' });
  }
  if (nestsDeeperThan(parsed, MAX_JSON_DEPTH)) {
    throw new GatewayError('invalid_request', { message: `gatehouse: the JSON body nests deeper than ${MAX_JSON_DEPTH} levels` });
  }
  return parsed;
}

/**
 * Replaces the instance's `application/json` parser with one that reads the body as bytes, refuses an
 * empty or non-UTF-8 body, and hands the bytes to `parse`. A plugin with bodies of its own (the client
 * routes) calls it again inside its encapsulation context with its own `parse`.
 */
export function useJsonParser(app: FastifyInstance, parse: ParseJson): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const buffer = body as Buffer;
    if (buffer.length === 0) {
      done(new GatewayError('invalid_request', { message: 'gatehouse: empty JSON body' }), undefined);
      return;
    }
    // toString would silently turn invalid bytes into U+FFFD while pass-through forwards the raw bytes.
    if (!isUtf8(buffer)) {
      done(new GatewayError('invalid_request', { message: 'gatehouse: the request body is not valid UTF-8 (JSON must be UTF-8 encoded)' }), undefined);
      return;
    }
    try {
      done(null, parse(buffer, request));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}

/**
 * The JSON body parser of every route that does not bring its own. fastify-plugin'd because a
 * content-type parser is encapsulated like a decorator: registered in a context of its own it would
 * not reach the admin, governance and optimizer routes registered beside it.
 */
export const jsonBody = fp(
  async (app: FastifyInstance) => {
    useJsonParser(app, parseJsonObject);
  },
  { name: 'gatehouse-json-body' },
);
