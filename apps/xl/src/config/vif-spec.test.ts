import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { generateMac, parseVifSpec, tapName, withMacs } from './vif-spec.js';

const pos = { file: 'v.cfg', line: 4, column: 8 };

function errorOf(spec: string): string {
  try {
    parseVifSpec(spec, pos);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`expected '${spec}' to be refused`);
}

describe('parseVifSpec', () => {
  it("reads xl's bridged form, whitespace tolerated", () => {
    expect(
      parseVifSpec(
        ' bridge = xenbr0 , mac=00:16:3E:0a:0b:0c, model=e1000,vifname=web0 ,script=vif-bridge',
        pos,
      ),
    ).toEqual({ type: 'tap', model: 'e1000', mac: '00:16:3e:0a:0b:0c', bridge: 'xenbr0', vifname: 'web0' });
  });

  it('takes xl types ioemu and vif as bridged, and resolves bare script names like xl', () => {
    expect(parseVifSpec('bridge=br0,type=ioemu', pos)).toEqual({
      type: 'tap',
      model: 'virtio-net-pci',
      bridge: 'br0',
    });
    expect(parseVifSpec('type=vif,script=my-up', pos)).toEqual({
      type: 'tap',
      model: 'virtio-net-pci',
      script: '/etc/xen/scripts/my-up',
    });
    expect(parseVifSpec('bridge=br0,script=/usr/local/sbin/vif-ovs', pos).script).toBe(
      '/usr/local/sbin/vif-ovs',
    );
  });

  it('keeps user-mode networking for type=user and for vifs naming no bridge', () => {
    expect(parseVifSpec('', pos)).toEqual({ type: 'user', model: 'virtio-net-pci' });
    expect(parseVifSpec('model=rtl8139,mac=00:16:3e:00:00:01', pos)).toEqual({
      type: 'user',
      model: 'rtl8139',
      mac: '00:16:3e:00:00:01',
    });
    expect(parseVifSpec('type=user, model=virtio', pos)).toEqual({ type: 'user', model: 'virtio-net-pci' });
  });

  it('warns about the xl keys it ignores, naming them', () => {
    const warnings: string[] = [];
    parseVifSpec('bridge=br0,ip=10.0.0.2,rate=10Mb/s', pos, warnings);
    expect(warnings).toEqual([
      "v.cfg:4:8: vif parameter 'ip' ignored (the guest configures its own address)",
      "v.cfg:4:8: vif parameter 'rate' ignored (no rate limiting)",
    ]);
  });

  const refused: [string, RegExp][] = [
    ['mac=zz', /^v\.cfg:4:8: vif mac: bad value 'zz': expected six hex pairs/],
    ['mac=01:16:3e:00:00:01', /vif mac: bad value '01:16:3e:00:00:01': expected a unicast address/],
    ['model=ne2k', /vif model: bad value 'ne2k': expected virtio, e1000 or rtl8139/],
    ['bridge=br0;reboot', /vif bridge: bad interface name: expected 1-15 characters/],
    ['bridge=averyveryverylongbr', /vif bridge: bad interface name/],
    ['bridge=br0,vifname=-x', /vif vifname: bad interface name: .* got '-x'/],
    ['bridge=br0,vifname=a/b', /vif vifname: bad interface name/],
    ['bridge=br0,script=../../bin/sh', /vif script: bad value '..\/..\/bin\/sh'/],
    ['bridge=br0,script=', /vif script: bad value ''/],
    ['type=tap', /vif type: bad value 'tap': expected ioemu, vif or user/],
    ['type=user,bridge=br0', /vif bridge: not possible with type=user/],
    ['vifname=web0', /vif vifname: needs a bridge or a script/],
    ['bridge=br0,bridge=br1', /vif bridge: given twice/],
    ['colour=blue', /unknown vif parameter 'colour': expected mac, bridge/],
    ['bridge', /vif parameter 'bridge': expected KEY=VALUE/],
  ];
  for (const [spec, message] of refused) {
    it(`refuses '${spec}', naming the key`, () => {
      expect(errorOf(spec)).toMatch(message);
    });
  }
});

describe('MACs and tap names', () => {
  it("generates unicast MACs with Xen's 00:16:3e prefix from the random bytes", () => {
    expect(generateMac(() => Uint8Array.of(0xab, 0x01, 0xff))).toBe('00:16:3e:ab:01:ff');
  });

  it('fills in only the missing MACs', () => {
    const random = () => Uint8Array.of(1, 2, 3);
    expect(withMacs([{ mac: '00:16:3e:aa:bb:cc' }, {}], random)).toEqual([
      { mac: '00:16:3e:aa:bb:cc' },
      { mac: '00:16:3e:01:02:03' },
    ]);
  });

  it('names taps vif<domid>.<index> like Xen unless vifname is given', () => {
    expect(tapName({}, 7, 0)).toBe('vif7.0');
    expect(tapName({}, 123456789, 7)).toBe('vif123456789.7');
    expect(tapName({ vifname: 'web0' }, 7, 1)).toBe('web0');
  });
});
