/**
 * The nothing-lost scenario (3 masters, DC/OS 2.2, real timers), then on the same lab the unit-start
 * test: master-3 (the Mesos leader after the failback, whose logs the failback copied to the
 * returning masters) has its Mesos master and Exhibitor stopped and started again. Under
 * `npm run test:long`: it has failed intermittently (2 runs of about 5) with no master recovering
 * its registrar within 150 s after that restart, an open finding (issue 11's note) to be explained
 * before it returns to the default suite. The same start test on a fresh lab is
 * unit-starts.lab.test.ts.
 */
import { describe } from 'vitest';
import { useMachinesE2e } from '../../support/machines-e2e.js';
import { itNothingLost } from '../../support/nothing-lost.js';
import { itStartsAsDcosRunsThem } from '../../support/unit-starts.js';

const e = useMachinesE2e({ instance: 5, tag: 'after-failback', masters: 3, dcos: '2.2', label: 'after failback' });

describe("after a failback: a restart of the leader host's Mesos master and Exhibitor (3 masters, DC/OS 2.2)", () => {
  const scenario = itNothingLost(e);
  itStartsAsDcosRunsThem(e, () => scenario.topology());
});
