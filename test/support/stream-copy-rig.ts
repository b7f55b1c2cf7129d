/**
 * Two nodes for the node-to-node copy: a real OpenSSH sshd each on its own loopback address,
 * logging in as the lab user (passwordless `sudo -n`), and a RemotePool holding one connection
 * to each. The test process plays dcfail: every byte of a copy crosses it.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RemotePool, type SshTarget } from '../../src/remote/ssh.js';
import type { Remote } from '../../src/remote/types.js';
import { LAB_USER, makeKey, makeTempDir, removeDir, sh, startSshd, type Sshd } from './sshd.js';

export interface CopyRig {
  readonly dir: string;
  readonly src: Remote;
  readonly dst: Remote;
  stop(): Promise<void>;
}

export async function startCopyRig(addresses: [string, string], port: number): Promise<CopyRig> {
  const dir = makeTempDir('stream-copy');
  const client = makeKey(dir, 'client');
  const sshds: Sshd[] = [];
  for (const address of addresses)
    sshds.push(await startSshd({ dir, address, port, authorizedKeys: client.publicLine }));
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, sshds.map((s) => `[${s.address}]:${port} ${s.hostKeyField}\n`).join(''));
  const pool = new RemotePool({ agentSocket: null });
  const target = (name: string, address: string): SshTarget => ({
    name,
    address,
    ssh: {
      user: LAB_USER,
      port,
      identityFile: client.privatePath,
      knownHostsFile: knownHosts,
      sudo: true,
      connectTimeoutMs: 5000,
    },
  });
  const src = await pool.get(target('node-a', addresses[0]));
  const dst = await pool.get(target('node-b', addresses[1]));
  return {
    dir,
    src,
    dst,
    stop: async () => {
      await pool.closeAll();
      for (const s of sshds) await s.stop();
      removeDir(dir);
    },
  };
}

/** A replica-like tree: one large file of random bytes, small files, a subdirectory, odd modes. */
export function makeLogTree(root: string, bigMiB: number): void {
  sh(`mkdir -p ${root}/positions && head -c ${bigMiB}M /dev/urandom > ${root}/000005.ldb`);
  writeFileSync(join(root, 'METADATA'), '{"status":"VOTING","promised":3}');
  for (let i = 0; i < 50; i += 1)
    writeFileSync(join(root, 'positions', `${String(i).padStart(20, '0')}.json`), `{"position":${i}}`);
  sh(`chmod 0640 ${root}/METADATA && chown 0:0 -R ${root}`);
}

/** Every regular file under `root` with its size and SHA-256, read by this process (not by the code under test). */
export async function treeDigest(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const p = join(rel, name);
      const st = statSync(join(root, p));
      if (st.isDirectory()) await walk(p);
      else {
        const h = createHash('sha256');
        for await (const chunk of createReadStream(join(root, p))) h.update(chunk as Buffer);
        out[p] = `${st.size}:${h.digest('hex')}`;
      }
    }
  };
  await walk('');
  return out;
}

/** This process's resident set now, from the kernel. */
export function rssBytes(): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return Number(m![1]) * 1024;
}

/** Samples this process's RSS every `everyMs` until stopped; returns the highest sample. */
export function sampleRss(everyMs: number): { stop(): { peak: number; samples: number } } {
  let peak = rssBytes();
  let samples = 1;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes());
    samples += 1;
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      peak = Math.max(peak, rssBytes());
      return { peak, samples: samples + 1 };
    },
  };
}
