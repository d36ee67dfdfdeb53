import { describe, expect, it } from 'vitest';
import { testDomainConfig } from '../testing/domain-config.js';
import { validateRecord } from './domain-record.js';

const base = {
  id: 3,
  name: 'web',
  uuid: '0b0e6f4e-3d0c-4a55-9d43-1a2b3c4d5e6f',
  config: testDomainConfig('web'),
  status: 'running',
  createdAt: '2026-01-01T00:00:00.000Z',
};

describe('validateRecord: the taps a record says xl created', () => {
  it('accepts plain interface names, bridges, script paths and MACs', () => {
    const taps = [
      { name: 'vif3.0', bridge: 'xenbr0', mac: '00:16:3e:00:00:01' },
      { name: 'web-eth1', script: '/etc/xen/scripts/vif-ovs' },
    ];
    expect(validateRecord({ ...base, taps }, 'f').taps).toEqual(taps);
  });

  it('refuses a record whose taps could name something else to delete or run', () => {
    for (const taps of [
      [{ name: '../../lo' }],
      [{ name: '-f' }],
      [{ name: 'a'.repeat(16) }],
      [{ name: 'vif3.0', bridge: 'br0 x' }],
      [{ name: 'vif3.0', script: 'relative/script' }],
      [{ name: 'vif3.0', script: '/etc/xen/scripts/a b' }],
      [{ name: 'vif3.0', mac: 'zz' }],
      'vif3.0',
      Array.from({ length: 65 }, (_, i) => ({ name: `t${i}` })),
    ]) {
      expect(() => validateRecord({ ...base, taps }, 'f'), JSON.stringify(taps).slice(0, 60)).toThrow(
        /corrupt domain record f: bad taps/,
      );
    }
  });
});
