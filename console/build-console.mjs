// Builds the console into console/dist. Run by `npm run build` and by npm's `prepare` (so a plain
// `npm install` on a fresh clone builds it). A production install (`npm ci --omit=dev`) has no Vite:
// there it skips with a note, since the Docker image copies a console built in its build stage.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const viteInstalled = existsSync(fileURLToPath(new URL('../node_modules/vite/package.json', import.meta.url)));
if (!viteInstalled) {
  console.log('gatehouse: vite is not installed (production install); the console is not built here.');
  process.exit(0);
}
const { build } = await import('vite');
await build({ configFile: fileURLToPath(new URL('./vite.config.ts', import.meta.url)), logLevel: 'warn' });
console.log('gatehouse: console built into console/dist');
