/**
 * The nothing-lost scenario (test/support/nothing-lost.ts) on a 5-master machines lab with DC/OS 2.2's
 * units and DC/OS's real timers (lab instance 5): madrid's power cut, failover, writes and Mesos/overlay
 * registrations while failed over, failback interrupted after its quarantine and madrid power-cycled,
 * failback to its end, under a continuous write load; nothing acknowledged is lost. The default suite runs
 * the 3-master DC/OS 2.2 variant (failover-failback.lab.test.ts); this one runs under `npm run test:long`.
 */
import { describe } from 'vitest';
import { useMachinesE2e } from '../../support/machines-e2e.js';
import { itNothingLost } from '../../support/nothing-lost.js';

const e = useMachinesE2e({
  instance: 5,
  tag: 'm-lost-5m-22',
  masters: 5,
  dcos: '2.2',
  label: 'nothing lost 5m 2.2',
});

describe('nothing lost on the machines lab (5 masters, DC/OS 2.2, real timers)', () => {
  itNothingLost(e);
});
