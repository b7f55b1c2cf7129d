/** A file preflight reads on a node and what must hold of its text: null when it does, else why not. */
export interface FileCheck {
  label: string;
  path: string;
  judge: (text: string) => string | null;
}
