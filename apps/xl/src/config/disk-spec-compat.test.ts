/** xl-disk-configuration(5)'s examples and xend's deprecated forms, as libxlu reads them. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { parseDiskSpec } from './disk-spec.js';

const pos = { file: 'd.cfg', line: 1, column: 8 };

function errorOf(spec: string): ConfigError {
  try {
    parseDiskSpec(spec, pos);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected '${spec}' to be refused`);
}

const volume = { target: '/dev/vg/guest-volume', format: 'raw', vdev: 'hda', readOnly: false, cdrom: false };
const iso = { target: '/root/image.iso', format: 'raw', vdev: 'hdc', readOnly: true, cdrom: true };

describe('parseDiskSpec: the man page examples', () => {
  it.each([
    '/dev/vg/guest-volume,,hda',
    '/dev/vg/guest-volume,raw,hda,rw',
    'format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume',
    'raw:/dev/vg/guest-volume,hda,w',
  ])('%s is the same disk', (spec) => {
    expect(parseDiskSpec(spec, pos)).toMatchObject(volume);
  });

  it.each([
    '/root/image.iso,,hdc,cdrom',
    '/root/image.iso,,hdc,,cdrom',
    '/root/image.iso,raw,hdc,devtype=cdrom',
    'format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso',
    'raw:/root/image.iso,hdc:cdrom,ro',
  ])('%s is the same cdrom', (spec) => {
    expect(parseDiskSpec(spec, pos)).toMatchObject(iso);
  });
});

describe('parseDiskSpec: deprecated forms', () => {
  it.each([
    ['phy:/dev/vg/web,xvda,w', { target: '/dev/vg/web', vdev: 'xvda', format: 'raw', readOnly: false }],
    ['phy:vg/web,xvda,w', { target: '/dev/vg/web' }],
    ['file:/srv/xen/web.img,xvda,w', { target: '/srv/xen/web.img', vdev: 'xvda' }],
    ['tap:aio:/srv/xen/web.img,xvda,w', { target: '/srv/xen/web.img', format: 'raw' }],
    ['tap:qcow2:/srv/xen/web.qcow2,xvdb,w', { target: '/srv/xen/web.qcow2', format: 'qcow2', index: 1 }],
    ['aio:/srv/xen/web.img,hda,w', { target: '/srv/xen/web.img', bus: 'ide' }],
    ['qcow2:/srv/xen/web.qcow2,xvda,r', { format: 'qcow2', readOnly: true }],
    ['tap2:tapdisk:aio:/srv/a.img,xvda,w', { target: '/srv/a.img' }],
  ])('%s', (spec, want) => {
    expect(parseDiskSpec(spec, pos)).toMatchObject(want);
  });

  it("reads ',hdc:cdrom,r' as an empty cdrom drive", () => {
    const d = parseDiskSpec(',hdc:cdrom,r', pos);
    expect(d).toMatchObject({ vdev: 'hdc', cdrom: true, readOnly: true, index: 2, bus: 'ide' });
    expect(d.target).toBeUndefined();
  });

  it('reads discard / no-discard, and accepts backendtype and backend=0', () => {
    expect(parseDiskSpec('/a.img,raw,xvda,rw,discard', pos).discard).toBe(true);
    expect(parseDiskSpec('/a.img,raw,xvda,rw,no-discard', pos).discard).toBe(false);
    expect(parseDiskSpec('/a.img,raw,xvda,rw', pos).discard).toBeUndefined();
    expect(parseDiskSpec('backendtype=qdisk,backend=0,vdev=xvda,target=/a.img', pos).target).toBe('/a.img');
  });

  it('names the flags that change nothing under QEMU', () => {
    const warnings: string[] = [];
    parseDiskSpec('/a.img,raw,xvda,rw,direct-io-safe', pos, warnings);
    expect(warnings).toEqual(["d.cfg:1:8: disk flag 'direct-io-safe' has no effect with QEMU"]);
  });
});

describe('parseDiskSpec: refusals name what is wrong', () => {
  it.each([
    ['vhd:/a.vhd,xvda,w', /disk format 'vhd' \(target prefix 'vhd:'\) is not supported/],
    ['drbd:web,xvda,w', /disk target prefix 'drbd:' is not supported/],
    ['raw:/a.img,qcow2,xvda,w', /contradicts the target's 'raw:' prefix/],
    ['/a.img,raw,xvda,w,script=block-iscsi', /disk script 'block-iscsi' is not supported/],
    ['/a.img,raw,xvda,w,backend=storage-dom', /driver domains are not supported/],
    ['/a.img,raw,xvda,w,discard,no-discard', /both discard and no-discard/],
    ['/a.iso,raw,hdc,w,cdrom', /cdrom hdc cannot be writable/],
    ['/a.img,raw,hdc:floppy,w', /bad vdev 'hdc:floppy'/],
  ])('%s', (spec, message) => {
    expect(errorOf(spec).message).toMatch(message);
  });
});
