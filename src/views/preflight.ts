/** How `dcfail preflight` looks on a terminal: one line per check, then the verdict. */
export interface Check {
  /** `local`, or the node's name. */
  host: string;
  check: string;
  ok: boolean;
  detail: string;
}

export function preflightLines(checks: readonly Check[]): string[] {
  const ok = checks.every((c) => c.ok);
  return [
    ...checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.host.padEnd(12)} ${c.check.padEnd(22)} ${c.detail}`),
    ok
      ? `preflight: all ${checks.length} checks pass`
      : `preflight: ${checks.filter((c) => !c.ok).length} of ${checks.length} checks FAIL`,
  ];
}
