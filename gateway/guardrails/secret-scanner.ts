import { createHash } from 'node:crypto';
import type { SecretLintCoreConfig, SecretLintCoreResult, SecretLintRawSource } from '@secretlint/types';

interface SecretLint {
  lint(source: SecretLintRawSource): Promise<SecretLintCoreResult>;
}

let secretlint: Promise<SecretLint> | undefined;

/**
 * secretlint and its rule set are loaded on the first scan, not at start: they add ~10 MB to every gateway
 * process (measured), and most cost centers never turn the secret guardrail on. The first scan of a process
 * waits for the import once.
 */
function loadSecretLint(): Promise<SecretLint> {
  secretlint ??= (async () => {
    const [{ secretLintProfiler }, { lintSource }, { creator: recommendedPreset }] = await Promise.all([
      import('@secretlint/profiler'),
      import('@secretlint/core'),
      import('@secretlint/secretlint-rule-preset-recommend'),
    ]);
    // secretlint marks every rule run with performance.mark and keeps every entry in an array it searches
    // on each mark: in a process that lives for weeks that is unbounded memory and a scan that slows
    // from 0.4 ms to 3+ ms. Gatehouse never reads the profile, so the marks are switched off.
    secretLintProfiler.mark = () => {};
    const config: SecretLintCoreConfig = { rules: [{ id: recommendedPreset.meta.id, rule: recommendedPreset }] };
    return { lint: (source) => lintSource({ source, options: { config, noPhysicFilePath: true } }) };
  })();
  return secretlint;
}

/** A policy's own pattern (`guardrails.patterns[]`), compiled. */
export interface ExtraPattern {
  id: string;
  regex: RegExp;
}

/** One secret found in one of the scanned texts. Never holds the secret itself. */
export interface SecretFinding {
  /** Short rule id: `github-token`, `aws-secret-access-key`, or a policy pattern's id. */
  rule: string;
  /** Index of the text it was found in. */
  text: number;
  start: number;
  end: number;
}

/** Texts are joined with this, so a secret can never span two of them. */
const SEPARATOR = '\n\n';

/** `AWSSecretAccessKey` / `GITHUB_TOKEN` → `aws-secret-access-key` / `github-token`. */
function kebab(messageId: string): string {
  return messageId
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .replace(/[_\s]+/g, '-')
    .toLowerCase();
}

function textIndexOf(offsets: readonly number[], position: number): number {
  let low = 0;
  let high = offsets.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (offsets[middle]! <= position) low = middle;
    else high = middle - 1;
  }
  return low;
}

/**
 * Finds secrets in `texts` with secretlint's recommended rule set (one lint call for all of them: the
 * fixed cost of a call is most of its price on small tool outputs) plus the policy's own patterns.
 */
export async function scanTexts(texts: readonly string[], extra: readonly ExtraPattern[]): Promise<SecretFinding[]> {
  if (texts.length === 0) return [];
  const offsets: number[] = [];
  let length = 0;
  for (const text of texts) {
    offsets.push(length);
    length += text.length + SEPARATOR.length;
  }
  const content = texts.join(SEPARATOR);
  const findings: SecretFinding[] = [];
  const result = await (await loadSecretLint()).lint({ content, filePath: 'gatehouse-turn.txt', ext: '.txt', contentType: 'text' });
  for (const message of result.messages) {
    const [start, end] = message.range;
    const text = textIndexOf(offsets, start);
    const base = offsets[text]!;
    findings.push({ rule: kebab(message.messageId), text, start: start - base, end: Math.min(end - base, texts[text]!.length) });
  }
  for (const pattern of extra) {
    texts.forEach((text, index) => {
      pattern.regex.lastIndex = 0;
      for (const match of text.matchAll(pattern.regex)) {
        if (match[0].length === 0) continue;
        findings.push({ rule: pattern.id, text: index, start: match.index, end: match.index + match[0].length });
      }
    });
  }
  return findings;
}

/** `«secret:github-token:3f2a»`: stable for the same secret, so the model sees one thing, not two. */
export function placeholderFor(rule: string, secret: string): string {
  return `«secret:${rule}:${createHash('sha256').update(secret).digest('hex').slice(0, 4)}»`;
}

/** `text` with each finding's span replaced by its placeholder (overlapping findings merged). */
export function redactText(text: string, findings: readonly SecretFinding[]): string {
  const sorted = [...findings].sort((a, b) => a.start - b.start || b.end - a.end);
  let out = '';
  let cursor = 0;
  for (const finding of sorted) {
    if (finding.start < cursor) continue;
    out += text.slice(cursor, finding.start) + placeholderFor(finding.rule, text.slice(finding.start, finding.end));
    cursor = finding.end;
  }
  return out + text.slice(cursor);
}

/** Compiles `guardrails.patterns`; the schema has already checked each regex compiles. */
export function compilePatterns(patterns: readonly { id: string; regex: string }[]): ExtraPattern[] {
  return patterns.map((pattern) => ({ id: pattern.id, regex: new RegExp(pattern.regex, 'g') }));
}
