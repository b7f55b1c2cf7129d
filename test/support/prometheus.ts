/** Prometheus' text format in tests: Debian's `promtool` as the judge, and a small reader of samples. */
import { execa } from 'execa';
import { existsSync } from 'node:fs';

const PROMTOOL = '/usr/bin/promtool';

export function hasPromtool(): boolean {
  return existsSync(PROMTOOL);
}

/** `promtool check metrics` (syntax and lint) on the text; its exit code and what it said. */
export async function promtoolCheck(text: string): Promise<{ exitCode: number; output: string }> {
  const r = await execa(PROMTOOL, ['check', 'metrics'], { input: text, reject: false, all: true });
  return { exitCode: r.exitCode ?? -1, output: String(r.all ?? '').trim() };
}

/** Every sample line as `name{labels}` -> value (the labels exactly as written). */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}
