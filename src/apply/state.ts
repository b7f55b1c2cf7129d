/** Where this machine keeps dcfail's local state, and who the operator is: both overridable for tests. */
import { hostname, homedir, userInfo } from 'node:os';
import { join } from 'node:path';

export function stateDir(): string {
  return process.env['DCFAIL_STATE_DIR'] ?? join(homedir(), '.dcfail');
}

export function operatorName(): string {
  return process.env['DCFAIL_OPERATOR'] ?? `${userInfo().username}@${hostname()}`;
}
