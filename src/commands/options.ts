/** The global flags every command receives (../shared/spec/CLI.md, "Flags every command takes"). */
export interface GlobalOptions {
  /** Path of the topology file (`-t`, `$DCFAIL_TOPOLOGY`, else ./dcfail.yaml). */
  topology: string;
  /** One JSON document on stdout, nothing else there. */
  json: boolean;
  logFile?: string | undefined;
  logLevel: string;
}
