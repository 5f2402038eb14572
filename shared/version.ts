import { readFileSync } from 'node:fs';

/** The package's version (package.json), for `--version`, the OpenAPI document and telemetry. */
export const GATEHOUSE_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
