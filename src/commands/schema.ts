/** `dcfail schema`: the JSON Schema of the topology, generated from the zod schema. */
import { z } from 'zod';
import { EXIT, type ExitCode } from '../errors.js';
import { TopologyInputSchema } from '../topology/schema.js';
import type { Io } from '../views/io.js';

function topologyJsonSchema(): Record<string, unknown> {
  // `input`: what a file may hold (keys with defaults are optional there).
  const schema = z.toJSONSchema(TopologyInputSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return { ...schema, $id: 'https://dcfail.invalid/topology.schema.json', title: 'dcfail topology' };
}

export async function schema(io: Io): Promise<ExitCode> {
  io.out(JSON.stringify(topologyJsonSchema(), null, 2));
  return EXIT.ok;
}
