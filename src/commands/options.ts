/** The global flags every command receives (../shared/spec/CLI.md, "Flags every command takes"). */
export interface GlobalOptions {
  /** Path of the topology file (`-t`, `$DCFAIL_TOPOLOGY`, else ./dcfail.yaml). */
  topology: string;
  /** One JSON document on stdout, nothing else there. */
  json: boolean;
  logFile?: string | undefined;
  logLevel: string;
}

/** The flags of failover, failback and apply (../shared/spec/CLI.md); each is recorded in the journal. */
export interface RunbookOptions extends GlobalOptions {
  yes?: boolean;
  overrideLossCheck?: string;
  attestFenced?: string;
  breakLock?: boolean;
  discardDivergent?: boolean;
  /** How long each verification may take to hold (ms). */
  verifyTimeoutMs?: number;
}
