#!/usr/bin/env node
// Entry of `npx gatehouse …`. Node.js 24 runs the TypeScript sources directly (type stripping).
const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  console.error(`gatehouse needs Node.js 22.12 or newer (found ${process.version}). Run it through npm (npm start / npx gatehouse), which uses the bundled Node.js 24.`);
  process.exit(1);
}
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
