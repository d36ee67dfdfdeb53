import { describe, expect, it } from 'vitest';
import { testDomainConfig } from '../testing/domain-config.js';
import type { QmpClient } from '@xlkit/qmp';
import { announceGuest, vifProblems } from './vif-taps.js';

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

describe('announceGuest', () => {
  const tapVif = { type: 'tap' as const, model: 'virtio-net-pci', bridge: 'br0' };
  function fakeQmp(fail = false) {
    const calls: [string, unknown][] = [];
    const qmp = {
      execute(name: string, args: unknown) {
        calls.push([name, args]);
        return fail ? Promise.reject(new Error('CommandNotFound')) : Promise.resolve({});
      },
    } as unknown as QmpClient;
    return { qmp, calls };
  }

  it("asks QEMU to announce a guest with bridged vifs, with QEMU's default timings", async () => {
    const { qmp, calls } = fakeQmp();
    expect(await announceGuest(qmp, testDomainConfig('web', { vifs: [tapVif] }))).toBeUndefined();
    expect(calls).toEqual([['announce-self', { initial: 50, max: 550, rounds: 5, step: 100 }]]);
  });

  it('leaves user-mode guests alone, and reports a failure instead of throwing after the switch-over', async () => {
    const quiet = fakeQmp();
    await announceGuest(quiet.qmp, testDomainConfig('web', { vifs: [{ type: 'user', model: 'e1000' }] }));
    expect(quiet.calls).toEqual([]);
    const failing = fakeQmp(true);
    expect(await announceGuest(failing.qmp, testDomainConfig('web', { vifs: [tapVif] }))).toBe(
      "announcing domain 'web' on its bridges failed: CommandNotFound",
    );
  });
});
