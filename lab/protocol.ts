/**
 * The supervisor's control protocol: one JSON request per line on the unix socket
 * `<lab>/supervisor.sock`, one JSON response line back.
 */
import { connect } from 'node:net';

export type UnitAction = 'start' | 'stop' | 'restart' | 'mask' | 'unmask' | 'is-active' | 'show' | 'hold';

export type Request =
  | { readonly op: UnitAction; readonly node: string; readonly unit: string }
  | { readonly op: 'daemon-reload'; readonly node: string }
  | { readonly op: 'status' }
  | { readonly op: 'kill-dc'; readonly dc: string }
  | { readonly op: 'revive-dc'; readonly dc: string }
  | { readonly op: 'shutdown' }
  | { readonly op: 'ping' };

export interface UnitStatus {
  readonly node: string;
  readonly dc: string;
  readonly unit: string;
  readonly active: boolean;
  readonly pid: number | undefined;
  readonly masked: boolean;
  /** A drop-in condition of the unit (its hold) fails: it does not start. */
  readonly held: boolean;
  readonly stopped: boolean;
  readonly restarts: number;
}

/** `systemctl show`'s LoadState, ActiveState, SubState and ConditionResult of a unit. */
export interface UnitShow {
  readonly load: string;
  readonly active: string;
  readonly sub: string;
  readonly condition: string;
}

export interface SupervisorStatus {
  readonly pid: number;
  readonly killedDcs: readonly string[];
  readonly blackholed: readonly string[];
  readonly units: readonly UnitStatus[];
}

export interface KillResult {
  readonly killed: number;
  /** How the DC's addresses were made unreachable. */
  readonly unreachable: 'blackholed' | 'refused';
  readonly detail: string;
}

export type Response = { readonly ok: true; readonly result?: unknown } | { readonly ok: false; readonly error: string };

/** Sends one request and waits for its answer (or throws when nothing listens). */
export function sendRequest(socketPath: string, req: Request, timeoutMs = 60_000): Promise<Response> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`lab supervisor: no answer to ${req.op} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        sock.end();
        try {
          resolve(JSON.parse(buf.slice(0, nl)) as Response);
        } catch (err) {
          reject(err as Error);
        }
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
