/**
 * How dcfail starts a unit as DC/OS runs it, on a fresh 3-master machines lab with DC/OS 2.2's units
 * and real timers (lab instance 5, after the nothing-lost file in the same lane): a held unit's start
 * refused at once, a start the Mesos pre-start check refuses waited for until systemd's retry brings
 * the master up.
 */
import { describe } from 'vitest';
import { useMachinesE2e } from '../../support/machines-e2e.js';
import { itStartsAsDcosRunsThem } from '../../support/unit-starts.js';

const e = useMachinesE2e({ instance: 5, tag: 'unit-starts', masters: 3, dcos: '2.2', label: 'unit starts' });

describe('dcfail starts units as DC/OS runs them (3 masters, DC/OS 2.2, real timers)', () => {
  itStartsAsDcosRunsThem(e, () => e.lab().topologyPath);
});
