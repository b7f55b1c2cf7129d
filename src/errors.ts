/**
 * Typed errors with a stable code. Only the entry point (src/main.ts) turns them into exit
 * statuses, following ../shared/spec/CLI.md:
 *   0 ok, 1 operational failure, 2 bad input, 3 refused as unsafe, 4 locked, 5 hazard found,
 *   130 interrupted (Ctrl-C / SIGTERM) between steps.
 */
export type ErrorSource = 'user' | 'remote' | 'internal';

export const EXIT = {
  ok: 0,
  failed: 1,
  badInput: 2,
  refused: 3,
  locked: 4,
  hazard: 5,
  /** Ctrl-C or SIGTERM: the run stopped between steps (128 + SIGINT, as a shell reports it). */
  interrupted: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class DcfailError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: ExitCode,
    readonly source: ErrorSource,
    /** Extra lines shown under the message (one issue per line). */
    readonly details: readonly string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The operator's input (topology, flags) is wrong. Nothing was touched. */
export class UserError extends DcfailError {
  constructor(code: string, message: string, details: readonly string[] = [], options?: { cause?: unknown }) {
    super(code, message, EXIT.badInput, 'user', details, options);
  }
}

/** The safety core or a gate refused: before the first change nothing was touched; mid-run, the stop report lists what was done. */
export class RefusedError extends DcfailError {
  constructor(code: string, message: string, details: readonly string[] = []) {
    super(code, message, EXIT.refused, 'user', details);
  }
}

/** A remote or local operation failed; the run stopped. */
export class OperationError extends DcfailError {
  constructor(code: string, message: string, details: readonly string[] = [], options?: { cause?: unknown }) {
    super(code, message, EXIT.failed, 'remote', details, options);
  }
}

/** The operator interrupted the run (SIGINT, SIGTERM): it stopped before its next step. */
export class InterruptedError extends DcfailError {
  constructor(signal: string, message = `interrupted (${signal}): stopped before the next step`) {
    super('interrupted', message, EXIT.interrupted, 'user');
  }
}

/** Another run holds the lock. */
export class LockedError extends DcfailError {
  constructor(message: string, details: readonly string[] = []) {
    super('locked', message, EXIT.locked, 'remote', details);
  }
}

/** A bug in dcfail: an invariant of our own code did not hold. */
export class InternalError extends DcfailError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(
      'internal',
      `internal error (a bug in dcfail, please report it): ${message}`,
      EXIT.failed,
      'internal',
      [],
      options,
    );
  }
}

/** Closes a `switch` over a discriminated union: the compiler proves every case is handled. */
export function assertNever(value: never, what = 'value'): never {
  throw new InternalError(`unexpected ${what}: ${JSON.stringify(value)}`);
}
