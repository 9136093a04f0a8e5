#!/usr/bin/env node
// Runs on Node.js >= 24, which executes the TypeScript sources directly (type stripping).
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  console.error(
    `mailops needs Node.js 24 or newer (this is ${process.version}). Run it through npm (npx mailops …, npm run …), ` +
      'which puts the project\'s own Node 24 from node_modules/.bin first on the PATH.',
  );
  process.exit(1);
}
await import('../src/cli/main.ts');
