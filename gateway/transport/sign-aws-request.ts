import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { OutboundRequest } from '../providers/provider-adapter.ts';

/** SigV4-signs an outbound request that carries `aws` credentials; returns the headers to send. */
export async function signAwsRequest(request: OutboundRequest): Promise<Record<string, string>> {
  const aws = request.aws;
  if (aws === undefined) return request.headers;
  const signer = new SignatureV4({
    service: aws.service,
    region: aws.region,
    sha256: Sha256,
    credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey, ...(aws.sessionToken !== undefined ? { sessionToken: aws.sessionToken } : {}) },
  });
  const url = new URL(request.url);
  const query: Record<string, string> = {};
  url.searchParams.forEach((value, key) => (query[key] = value));
  const signed = await signer.sign({
    method: request.method,
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port !== '' ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query,
    headers: { ...request.headers, host: url.host },
    body: request.body,
  });
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(signed.headers)) if (key !== 'host') headers[key] = String(value);
  return headers;
}
