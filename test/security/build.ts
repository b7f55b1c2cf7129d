/** Builds this checkout once into .lab-hardening-build/dist (others rebuild the shared dist/ meanwhile). */
import { existsSync } from 'node:fs';
import { buildPrivately, REPO } from '../support/e2e.js';

export const BUILD_DIR = `${REPO}/.lab-hardening-build`;
const BIN = `${BUILD_DIR}/dist/bin/dcfail.js`;

export async function ensureBuilt(): Promise<string> {
  if (!existsSync(BIN) || process.env['DCFAIL_SECURITY_REBUILD']) await buildPrivately(BUILD_DIR);
  return BIN;
}
