import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { parseDiskSpec } from './disk-spec.js';

const pos = { file: 'd.cfg', line: 3, column: 10 };

function errorOf(spec: string): ConfigError {
  try {
    parseDiskSpec(spec, pos);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseDiskSpec', () => {
  it('reads the positional form', () => {
    expect(parseDiskSpec('/img/a.qcow2,qcow2,xvda,rw', pos)).toEqual({
      target: '/img/a.qcow2',
      format: 'qcow2',
      vdev: 'xvda',
      bus: 'virtio',
      index: 0,
      readOnly: false,
      cdrom: false,
    });
    expect(parseDiskSpec('/img/b.raw,,hdb,w', pos)).toMatchObject({
      format: 'raw',
      bus: 'ide',
      index: 1,
      readOnly: false,
    });
    expect(parseDiskSpec('/img/b.raw,,xvdb,r', pos)).toMatchObject({
      bus: 'virtio',
      index: 1,
      readOnly: true,
    });
    expect(parseDiskSpec('/img/c.raw,raw,vdc', pos)).toMatchObject({
      bus: 'virtio',
      index: 2,
      readOnly: false,
    });
  });

  it('reads the keyed form with target last, keeping commas in the path', () => {
    expect(parseDiskSpec('format=raw, vdev=xvdb, access=ro, target=/img/a,b.raw', pos)).toMatchObject({
      target: '/img/a,b.raw',
      format: 'raw',
      vdev: 'xvdb',
      index: 1,
      readOnly: true,
    });
  });

  it('mixes keys and positionals and strips legacy prefixes', () => {
    expect(parseDiskSpec('file:/img/a.raw,vdev=xvdaa', pos)).toMatchObject({
      target: '/img/a.raw',
      index: 26,
    });
  });

  it('reads cache=none|writeback, leaves it unset otherwise, and refuses other modes', () => {
    expect(parseDiskSpec('format=raw, vdev=xvdb, cache=none, target=/b.raw', pos).cache).toBe('none');
    expect(parseDiskSpec('format=raw, vdev=xvdb, cache=writeback, target=/b.raw', pos).cache).toBe(
      'writeback',
    );
    expect(parseDiskSpec('/b.raw,raw,xvdb,rw', pos).cache).toBeUndefined();
    expect(errorOf('format=raw, vdev=xvdb, cache=unsafe, target=/b.raw').message).toMatch(
      /bad cache 'unsafe': expected none or writeback/,
    );
  });

  it('reads shared=yes (storage every host sees) and refuses other values', () => {
    expect(parseDiskSpec('format=raw, vdev=xvdb, shared=yes, target=/nfs/b.raw', pos)).toMatchObject({
      shared: true,
      vdev: 'xvdb',
    });
    expect(parseDiskSpec('format=raw, vdev=xvdb, shared=no, target=/nfs/b.raw', pos).shared).toBeUndefined();
    expect(errorOf('format=raw, vdev=xvdb, shared=maybe, target=/b.raw').message).toMatch(
      /bad shared 'maybe': expected yes or no/,
    );
  });

  it('accepts an empty IDE cdrom', () => {
    expect(parseDiskSpec(',raw,hdc,devtype=cdrom', pos)).toMatchObject({
      cdrom: true,
      readOnly: true,
      index: 2,
    });
    expect(parseDiskSpec(',raw,hdc,devtype=cdrom', pos).target).toBeUndefined();
  });

  const cases: [string, number, RegExp][] = [
    ['/img/a.raw,raw', 10, /has no vdev/],
    ['/img/a.raw,raw,sda', 26, /bad vdev 'sda'/],
    ['/img/a.raw,raw,hde', 26, /IDE has only hda to hdd/],
    ['/img/a.raw,vmdk,xvda', 22, /bad disk format 'vmdk'/],
    ['/img/a.raw,raw,xvda,rx', 31, /bad disk access 'rx'/],
    ['/img/a.raw,raw,xvda,rw,extra', 34, /too many positional/],
    ['vdev=xvda,colour=red,target=/x', 21, /unknown disk parameter 'colour'/],
    ['vdev=xvda,vdev=xvdb,target=/x', 21, /sets 'vdev' twice/],
    ['format=raw,vdev=xvda', 10, /has no target/],
    ['/x,raw,xvda,devtype=cdrom', 18, /cdrom needs an IDE vdev/],
    ['/x,raw,hda,ro', 22, /IDE hard disk hda cannot be read-only/],
  ];
  for (const [spec, column, message] of cases) {
    it(`rejects '${spec}' at column ${column}`, () => {
      const err = errorOf(spec);
      expect(err.line).toBe(3);
      expect(err.column).toBe(column);
      expect(err.message).toMatch(message);
    });
  }
});
