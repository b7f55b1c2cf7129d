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
    // An overall deadline too: the idle timeout alone restarts with every byte.
    const deadline = setTimeout(() => done({ kind: 'timeout', ms: ms() }), timeoutMs);
    socket.once('close', () => clearTimeout(deadline));
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

/** The most a four-letter word's reply may hold (mntr is a few hundred bytes). */
const FLW_MAX_BYTES = 64 * 1024;

/**
 * Sends a four-letter word (srvr, mntr) and returns the reply, or throws: within `timeoutMs`
 * overall (a server trickling a byte at a time does not extend it), at most 64 KiB.
 */
export function fourLetterWord(host: string, port: number, word: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let data = '';
    let bytes = 0;
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      socket.destroy();
      reject(err);
    };
    const deadline = setTimeout(
      () => fail(new Error(`${word} to ${host}:${port} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.setTimeout(timeoutMs, () => fail(new Error(`${word} to ${host}:${port} timed out after ${timeoutMs} ms`)));
    socket.once('connect', () => socket.end(word));
    socket.on('data', (b: Buffer) => {
      bytes += b.length;
      if (bytes > FLW_MAX_BYTES)
        fail(new Error(`${word} to ${host}:${port}: the reply exceeded ${FLW_MAX_BYTES} bytes`));
      else data += b.toString('utf8');
    });
    socket.once('error', (err) => fail(err));
    socket.once('close', () => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(data);
    });
  });
}
