/**
 * The part of Calico's configuration dcfail reads, as its etcdv3 datastore stores it, and the
 * checked reading of those keys. Pure.
 *
 * Key layout (projectcalico/calico, libcalico-go/lib/backend/model/resource.go,
 * `ResourceKey.defaultDeletePath`): a cluster-wide resource lives at
 * `/calico/resources/v3/projectcalico.org/<plural>/<name>`, its value the resource as JSON
 * (`apiVersion`, `kind`, `metadata`, `spec`). The plurals are registered in the same file:
 * `bgpconfigurations` (api/pkg/apis/projectcalico/v3/bgpconfig.go: `spec.nodeToNodeMeshEnabled`,
 * default true), `nodes` (libcalico-go/lib/apis/internalapi/node.go: `spec.bgp.ipv4Address`,
 * `spec.bgp.routeReflectorClusterID`), `bgppeers` (api/pkg/apis/projectcalico/v3/bgppeer.go:
 * `spec.node`, `spec.nodeSelector`, `spec.peerIP`, `spec.peerSelector`; neither node nor
 * nodeSelector: the peering applies to every node).
 *
 * The keys come from etcd, so nothing in them is trusted: counts, sizes and strings are capped,
 * every value is validated, and a key that does not validate is left out with a problem saying
 * which key and why (the judgement then says its view is incomplete).
 */
import { z } from 'zod';

export const CALICO_PREFIX = '/calico/resources/v3/projectcalico.org/';
export const CALICO_KINDS = { bgpconfigurations: 'BGPConfiguration', nodes: 'Node', bgppeers: 'BGPPeer' } as const;
export type CalicoPlural = keyof typeof CALICO_KINDS;

/** At most this many keys are read per kind; more is refused (not truncated: a partial view could hide a DC's reflector). */
export const MAX_KEYS_PER_KIND = 20_000;
/** A resource larger than this is left out, with a problem. */
const MAX_VALUE_BYTES = 64 * 1024;

const NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,252}$/;

const boundedString = (max: number) => z.string().max(max);

const MetadataSchema = z.object({
  name: boundedString(253),
  labels: z.record(z.string().regex(LABEL_KEY), boundedString(63)).optional(),
});

const BgpConfigurationSchema = z.object({
  kind: z.literal('BGPConfiguration'),
  metadata: MetadataSchema,
  spec: z.object({ nodeToNodeMeshEnabled: z.boolean().optional() }).optional(),
});

const NodeSchema = z.object({
  kind: z.literal('Node'),
  metadata: MetadataSchema,
  spec: z
    .object({
      bgp: z
        .object({
          ipv4Address: boundedString(64).optional(),
          routeReflectorClusterID: boundedString(64).optional(),
        })
        .optional(),
    })
    .optional(),
});

const BgpPeerSchema = z.object({
  kind: z.literal('BGPPeer'),
  metadata: MetadataSchema,
  spec: z.object({
    node: boundedString(253).optional(),
    nodeSelector: boundedString(1024).optional(),
    peerIP: boundedString(64).optional(),
    peerSelector: boundedString(1024).optional(),
  }),
});

export interface CalicoNode {
  name: string;
  labels: Record<string, string>;
  /** The node's BGP IPv4 address, without its prefix length. */
  ipv4?: string | undefined;
  /** Set: the node is a route reflector (its cluster id). */
  routeReflectorClusterId?: string | undefined;
}

export interface CalicoPeer {
  name: string;
  node?: string | undefined;
  nodeSelector?: string | undefined;
  peerIP?: string | undefined;
  peerSelector?: string | undefined;
}

export interface CalicoConfig {
  /** The `default` BGPConfiguration's `nodeToNodeMeshEnabled`; undefined when absent (Calico's default: true). */
  meshSetting: boolean | undefined;
  nodes: CalicoNode[];
  peers: CalicoPeer[];
  /** Keys left out, each with why. */
  problems: string[];
}

export interface RawKey {
  key: string;
  value: string;
}

function readOne<T>(schema: z.ZodType<T>, k: RawKey, problems: string[]): T | undefined {
  const bytes = new TextEncoder().encode(k.value).length;
  if (bytes > MAX_VALUE_BYTES) {
    problems.push(`${k.key}: ${bytes} bytes, more than ${MAX_VALUE_BYTES}: left out`);
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(k.value);
  } catch {
    problems.push(`${k.key}: not JSON: left out`);
    return undefined;
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0]!;
    problems.push(`${k.key}: ${i.path.join('.') || 'value'}: ${i.message}: left out`);
    return undefined;
  }
  return r.data;
}

/** The name a key gives its resource, if the key is `<prefix><plural>/<name>` with a valid name. */
function nameOf(key: string, plural: CalicoPlural, problems: string[]): string | undefined {
  const name = key.slice(`${CALICO_PREFIX}${plural}/`.length);
  if (!NAME.test(name)) {
    problems.push(`${key.slice(0, 300)}: not a Calico resource name: left out`);
    return undefined;
  }
  return name;
}

/** Reads the keys of the three kinds (as listed under their prefixes) into what the judgement needs. */
export function parseCalicoKeys(keys: Record<CalicoPlural, readonly RawKey[]>): CalicoConfig {
  const problems: string[] = [];
  let meshSetting: boolean | undefined;
  for (const k of keys.bgpconfigurations) {
    if (nameOf(k.key, 'bgpconfigurations', problems) !== 'default') continue;
    const r = readOne(BgpConfigurationSchema, k, problems);
    if (r) meshSetting = r.spec?.nodeToNodeMeshEnabled;
  }
  const nodes: CalicoNode[] = [];
  for (const k of keys.nodes) {
    const name = nameOf(k.key, 'nodes', problems);
    const r = name === undefined ? undefined : readOne(NodeSchema, k, problems);
    if (!r || name === undefined) continue;
    const ip = r.spec?.bgp?.ipv4Address?.replace(/\/\d{1,2}$/, '');
    const rr = r.spec?.bgp?.routeReflectorClusterID;
    nodes.push({
      name,
      labels: r.metadata.labels ?? {},
      ...(ip ? { ipv4: ip } : {}),
      ...(rr ? { routeReflectorClusterId: rr } : {}),
    });
  }
  const peers: CalicoPeer[] = [];
  for (const k of keys.bgppeers) {
    const name = nameOf(k.key, 'bgppeers', problems);
    const r = name === undefined ? undefined : readOne(BgpPeerSchema, k, problems);
    if (!r || name === undefined) continue;
    const s = r.spec;
    peers.push({
      name,
      ...(s.node ? { node: s.node } : {}),
      ...(s.nodeSelector ? { nodeSelector: s.nodeSelector } : {}),
      ...(s.peerIP ? { peerIP: s.peerIP } : {}),
      ...(s.peerSelector ? { peerSelector: s.peerSelector } : {}),
    });
  }
  return { meshSetting, nodes, peers, problems };
}
