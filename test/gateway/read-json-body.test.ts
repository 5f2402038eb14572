import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { codexBody } from '../../bench/bench-scenarios.ts';
import { readJsonBody, withTopLevelMember, withTopLevelMembers } from '../../gateway/inbound/read-json-body.ts';
import { GatewayError } from '../../gateway/errors/gateway-error.ts';

const read = (text: string, depth = 256) => readJsonBody(Buffer.from(text), depth);

function errorOf(text: string, depth = 256): GatewayError {
  try {
    read(text, depth);
  } catch (error) {
    return error as GatewayError;
  }
  throw new Error(`accepted: ${text}`);
}

describe('readJsonBody: one pass over the bytes, the history parsed where it is read', () => {
  it('equals JSON.parse on real Codex requests, padded to 200 KB, and on awkward but valid JSON', () => {
    const texts = [
      ...[1, 2, 3].map((turn) => JSON.stringify(JSON.parse(readFileSync(`test/fixtures/inbound/codex-cli/responses-request-turn${turn}.json`, 'utf8')).body)),
      codexBody(200_000).body,
      ' { "a" : [ ] , "b" : { } , "c" : [ 1 , -2.5e+3 , 0 , 0.25E-2 , true , false , null , "x\\\\" , "\\"q\\"" , [ [ ] ] ] , "d" : "é…\\u00e9" } \n',
      '{}',
      '{"model":"m","model":"n","input":[{"x":"]}[{\\\\"}]}',
      `{"input":[${Array.from({ length: 400 }, (_, index) => JSON.stringify({ type: 'function_call_output', call_id: `c${index}`, output: 'x'.repeat(100) })).join(',')}],"model":"gpt"}`,
    ];
    for (const text of texts) {
      const body = read(text);
      expect(JSON.parse(JSON.stringify(body))).toEqual(JSON.parse(text));
      expect(Object.keys(body)).toEqual(Object.keys(JSON.parse(text) as object));
    }
  });

  it('finds the end of strings around the short-string loop: escapes and quotes at every offset up to and past it', () => {
    const texts: string[] = [];
    for (let length = 0; length <= 60; length++) {
      for (const tail of ['', '\\', '"', '\\"', 'é', '\n']) {
        const value = 'a'.repeat(length) + tail;
        texts.push(JSON.stringify({ key: value, [value]: [value, { [value]: true }, null, false], tail: 1 }));
      }
    }
    for (const text of texts) expect(JSON.parse(JSON.stringify(read(text)))).toEqual(JSON.parse(text));
    for (const text of ['{"a":"' + 'x'.repeat(30), '{"a":"' + 'x'.repeat(60), '{"a":"x\\"}', '{"a":tru', '{"a":nul}', '{"a":[fals]}']) {
      expect(errorOf(text).code).toBe('invalid_request');
    }
  });

  it('parses a large history lazily: reading the last item parses only it, and the array still behaves as one', () => {
    const { body: text } = codexBody(200_000);
    const body = read(text);
    const input = body.input as unknown[];
    const expected = (JSON.parse(text) as { input: unknown[] }).input;
    expect(Array.isArray(input)).toBe(true);
    expect(input.length).toBe(expected.length);
    expect(input[input.length - 1]).toEqual(expected.at(-1));
    expect(input.slice(-2)).toEqual(expected.slice(-2));
    expect([...input]).toEqual(expected);
    expect({ ...body }.input).toBe(input);
    expect(body.model).toBe('gpt-5.5');
  });

  it('refuses malformed JSON, a non-object body and deep nesting with invalid_request naming the problem', () => {
    const cases: [string, string][] = [
      ['{"model": "gpt-5.5", ', 'malformed JSON body: unexpected end'],
      ['{"a":1,}', 'malformed JSON body: expected a property name'],
      ['{"a":[1,]}', 'malformed JSON body: unexpected character'],
      ['{"a" 1}', 'malformed JSON body: expected ":"'],
      ['{"a":1 "b":2}', 'malformed JSON body: expected "," or "}"'],
      ['{"a":[1 2]}', 'malformed JSON body: expected "," or "]"'],
      ['{"a":tru}', 'malformed JSON body: unexpected character'],
      ['{"a":01}', 'malformed JSON body: expected "," or "}"'],
      ['{"a":-}', 'malformed JSON body: invalid number'],
      ['{"a":1.}', 'malformed JSON body: invalid number'],
      ['{"a":"x}', 'malformed JSON body: unterminated string'],
      ['{"a":"x\\"}', 'malformed JSON body: unterminated string'],
      ['{"a":1} x', 'malformed JSON body: unexpected data after the JSON value'],
      ['{"a":1}}', 'malformed JSON body: unexpected data after the JSON value'],
      ['{"a":[}', 'malformed JSON body: unexpected character'],
      ['[1]', 'the JSON body must be an object'],
      ['"text"', 'the JSON body must be an object'],
      [`{"a":${'['.repeat(300)}${']'.repeat(300)}}`, 'nests deeper than 256 levels'],
    ];
    for (const [text, message] of cases) {
      const error = errorOf(text);
      expect(error, text).toBeInstanceOf(GatewayError);
      expect(error.code, text).toBe('invalid_request');
      expect(error.message, text).toContain(message);
    }
    expect(() => read(`{"a":${'['.repeat(255)}${']'.repeat(255)}}`)).not.toThrow();
  });

  it('finds a history item\'s end by its strings and brackets; its grammar is checked when it is read', () => {
    // Brackets that do not pair up, an unterminated string and nesting past the limit inside an item are refused at once.
    for (const [text, message] of [
      ['{"input":[{"a":[1}]}', 'malformed JSON body: unexpected "}"'],
      ['{"input":[{"a":"x}]}', 'malformed JSON body: unterminated string'],
      ['{"input":[{"a":1]}', 'malformed JSON body: unexpected "]"'],
      ['{"input":[{"a":1}', 'malformed JSON body: unexpected end'],
      [`{"input":[${'['.repeat(300)}${']'.repeat(300)}]}`, 'nests deeper than 256 levels'],
    ] as const) {
      const error = errorOf(text);
      expect(error.code, text).toBe('invalid_request');
      expect(error.message, text).toContain(message);
    }
    expect(() => read(`{"input":[${'['.repeat(254)}${']'.repeat(254)}]}`)).not.toThrow();
    // A well-bracketed item with bad grammar inside: the body is read, and the item refused when read.
    const body = read(`{"model":"m","input":[{"type":"message"},{"a" 1},${JSON.stringify({ pad: 'x'.repeat(5000) })}]}`);
    const input = body.input as unknown[];
    expect(input[0]).toEqual({ type: 'message' });
    let refused: GatewayError | undefined;
    try {
      void input[1];
    } catch (error) {
      refused = error as GatewayError;
    }
    expect(refused?.code).toBe('invalid_request');
    expect(refused?.message).toContain('malformed JSON body');
  });

  it('a "__proto__" member is an own property, as with JSON.parse, never the prototype', () => {
    const body = read('{"__proto__":{"polluted":true},"model":"m"}');
    expect(Object.getPrototypeOf(body)).toBe(Object.prototype);
    expect((body as { polluted?: boolean }).polluted).toBeUndefined();
    expect(Object.keys(body)).toEqual(['__proto__', 'model']);
  });

  it('rewrites one top-level member in place, the other bytes untouched', () => {
    const text = '{"model" : "alias","input":[{"model":"inner"}],"stream":true}';
    const body = read(text);
    expect(withTopLevelMember(body, 'model', 'gpt-5.5')?.toString()).toBe('{"model" : "gpt-5.5","input":[{"model":"inner"}],"stream":true}');
    expect(withTopLevelMember(body, 'absent', 1)).toBeUndefined();
    expect(withTopLevelMember({ model: 'x' }, 'model', 'y')).toBeUndefined();
  });

  it('sets several members at once, replacing present ones and inserting absent ones, the history copied as bytes', () => {
    const history = JSON.stringify(Array.from({ length: 400 }, (_, index) => ({ role: 'user', content: `turn ${index} ${'x'.repeat(400)}` })));
    const text = ` { "model":"alias", "messages":${history}, "stream":true }`;
    const body = read(text);
    const spliced = withTopLevelMembers(body, { model: 'gpt-5.5', stream_options: { include_usage: true } })!.toString();
    expect(JSON.parse(spliced)).toEqual({ ...JSON.parse(text), model: 'gpt-5.5', stream_options: { include_usage: true } });
    expect(spliced).toContain(`"messages":${history}`);
    expect(read('{}') && withTopLevelMembers(read('{}'), { a: 1 })?.toString()).toBe('{"a":1}');
    expect(withTopLevelMembers({ model: 'x' }, { model: 'y' })).toBeUndefined();
  });
});
