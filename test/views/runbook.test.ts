/** The terminal host of a run: its answers to a confirmation, and how it renders the run's events. */
import { describe, expect, it } from 'vitest';
import { captureIo } from '../../src/views/io.js';
import { terminalHost } from '../../src/views/runbook.js';

const request = { kind: 'confirm' as const, what: 'failover' as const, dc: 'barcelona' };

describe('terminalHost: confirmation is a request, --yes and no terminal are answers', () => {
  it('--yes answers the DC name without asking', async () => {
    const io = captureIo(true);
    expect(await terminalHost(io, { json: false, yes: true }).request(request)).toBe('barcelona');
  });

  it('without a terminal nobody can answer', async () => {
    expect(await terminalHost(captureIo(false), { json: false }).request(request)).toBeNull();
  });

  it('on a terminal it asks for the DC name and returns what was typed', async () => {
    const asked: string[] = [];
    const io = {
      ...captureIo(true),
      ask: async (q: string) => {
        asked.push(q);
        return 'madrid\n';
      },
    };
    expect(await terminalHost(io, { json: false }).request(request)).toBe('madrid\n');
    expect(asked).toEqual(['Type the name of the DC (barcelona) to failover, anything else aborts: ']);
  });
});

describe('terminalHost: rendering', () => {
  it('prints warnings on stderr with their details, and the report as text', () => {
    const io = captureIo();
    const host = terminalHost(io, { json: false });
    host.notify({ kind: 'warning', code: 'x', message: 'proceeding as asked', details: ['one', 'two'] });
    host.notify({ kind: 'report', body: { outcome: 'done' }, text: ['done: 3 steps'] });
    expect(io.stderr).toBe('WARNING: proceeding as asked\n  one\n  two\n');
    expect(io.stdout).toBe('done: 3 steps\n');
  });

  it('with --json prints only the report document on stdout, bigints as strings', () => {
    const io = captureIo();
    const host = terminalHost(io, { json: true });
    host.notify({ kind: 'notice', message: 'resuming' });
    host.notify({ kind: 'report', body: { outcome: 'done', index: 12n }, text: ['ignored'] });
    expect(JSON.parse(io.stdout)).toEqual({ outcome: 'done', index: '12' });
    expect(io.stderr).toBe('resuming\n');
  });
});
