#!/usr/bin/env node
// Runs the TypeScript entry point through tsx (a runtime dependency), so the
// installed command and `npm start` run the same code with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
