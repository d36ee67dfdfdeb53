import { describe, expect, it } from 'vitest';
import { testDomainConfig } from '../testing/domain-config.js';
import { vifProblems } from './vif-taps.js';

describe('vifProblems', () => {
  const host = { bridge: (b: string) => b === 'br0', file: (f: string) => f === '/etc/xen/scripts/ok' };

  it('names each missing bridge and hotplug script once; user-mode vifs need nothing', () => {
    const config = {
      ...testDomainConfig('web'),
      vifs: [
        { type: 'tap' as const, model: 'e1000', bridge: 'br0' },
        { type: 'tap' as const, model: 'e1000', bridge: 'xenbr0' },
        { type: 'tap' as const, model: 'e1000', bridge: 'xenbr0', vifname: 'web1' },
        { type: 'tap' as const, model: 'e1000', bridge: 'ovs0', script: '/etc/xen/scripts/ok' },
        { type: 'tap' as const, model: 'e1000', script: '/etc/xen/scripts/gone' },
        { type: 'user' as const, model: 'e1000' },
      ],
    };
    expect(vifProblems(config, host)).toEqual([
      "bridge 'xenbr0' does not exist on this host",
      'vif script /etc/xen/scripts/gone does not exist on this host',
    ]);
  });
});
