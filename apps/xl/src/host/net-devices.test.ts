import { describe, expect, it } from 'vitest';
import { createTap, hotplugEnv, isTap, netDeviceExists, releaseTaps } from './net-devices.js';

describe('host network devices', () => {
  it("gives hotplug scripts vif-bridge's variables and nothing of xl's own environment", () => {
    const env = hotplugEnv(
      { name: 'vif3.0', bridge: 'xenbr0', script: '/etc/xen/scripts/vif-x', mac: '00:16:3e:00:00:01' },
      { name: 'web', id: 3 },
    );
    expect(env).toEqual({
      PATH: expect.any(String) as string,
      script: '/etc/xen/scripts/vif-x',
      XENBUS_TYPE: 'vif',
      vif: 'vif3.0',
      bridge: 'xenbr0',
      mac: '00:16:3e:00:00:01',
      XLKIT_DOMAIN: 'web',
      XLKIT_DOMID: '3',
    });
  });

  it('refuses names that are not plain interface names before touching anything', async () => {
    expect(() => netDeviceExists('../lo')).toThrow(/refusing network device name '..\/lo'/);
    expect(() => isTap('-x')).toThrow(/refusing network device name/);
    await expect(createTap('a'.repeat(16))).rejects.toThrow(/refusing network device name/);
  });

  it('refuses to create a tap over an existing device, and never removes a device that is not a tap', async () => {
    await expect(createTap('lo')).rejects.toThrow(/network device 'lo' already exists on this host/);
    expect(isTap('lo')).toBe(false);
    expect(await releaseTaps([{ name: 'lo' }], { name: 'x', id: 1 })).toEqual([]);
    expect(netDeviceExists('lo')).toBe(true);
  });
});
