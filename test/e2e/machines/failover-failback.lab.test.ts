/**
 * dcfail on the machines lab: 3 masters, DC/OS 2.2 units, DC/OS's real timers (lab instance 5).
 * The nothing-lost scenario (test/support/nothing-lost.ts; its 5-master and DC/OS 2.1 variants are
 * nothing-lost-*.long.test.ts): data written and a continuous write load, madrid's power cut,
 * `dcfail failover --to secondary` as an operator runs it, writes and Mesos/overlay registrations
 * while failed over, madrid's power back (its units held), `dcfail failback` interrupted right after
 * its quarantine, madrid power-cycled while quarantined, the failback run again to its end: every
 * write and every acknowledged write of the load there, the Mesos registry and the overlay
 * allocations intact, every DC/OS file byte for byte as before, status normal. How dcfail starts a
 * unit as DC/OS runs it is unit-starts.lab.test.ts (a fresh lab) and, right after this scenario,
 * after-failback.long.test.ts.
 */
import { describe } from 'vitest';
import { useMachinesE2e } from '../../support/machines-e2e.js';
import { itNothingLost } from '../../support/nothing-lost.js';

const e = useMachinesE2e({ instance: 5, tag: 'm-lost', masters: 3, dcos: '2.2', label: 'machines e2e' });

describe('dcfail on the machines lab (3 masters, DC/OS 2.2, real timers)', () => {
  itNothingLost(e);
});
