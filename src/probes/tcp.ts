/** Plain TCP probes: is a port open, and ZooKeeper's four-letter words. */
import { connect } from 'node:net';

export type TcpResult =
  | { kind: 'open'; ms: number }
  | { kind: 'refused'; ms: number }
  | { kind: 'timeout'; ms: number }
  | { kind: 'error'; ms: number; error: string };

export function probeTcp(host: string, port: number, timeoutMs: number): Promise<TcpResult> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (r: TcpResult) => {
      socket.destroy();
      resolve(r);
    };
    socket.setTimeout(timeoutMs, () => done({ kind: 'timeout', ms: ms() }));
    socket.once('connect', () => done({ kind: 'open', ms: ms() }));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(
        err.code === 'ECONNREFUSED'
          ? { kind: 'refused', ms: ms() }
          : { kind: 'error', ms: ms(), error: err.code ?? err.message },
      ),
    );
  });
}

/** Sends a four-letter word (srvr, mntr) and returns the reply, or throws. */
export function fourLetterWord(host: string, port: number, word: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let data = '';
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`${word} to ${host}:${port} timed out after ${timeoutMs} ms`));
    });
    socket.once('connect', () => socket.end(word));
    socket.on('data', (b) => {
      data += b.toString('utf8');
    });
    socket.once('error', (err) => reject(err));
    socket.once('close', () => resolve(data));
  });
}
