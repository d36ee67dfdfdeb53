/**
 * xl.cfg's display keys: `vnc`, `vnclisten`, `vncdisplay`, `vncunused`, `vncpasswd`, `sdl`,
 * `vga`/`stdvga`, and a PV `vfb = [ 'vnc=1,...' ]`. VNC serves the guest's screen on a unix
 * socket in the domain's directory unless `vnclisten` names an address (then port 5900 +
 * vncdisplay, or the first free display). Unlike xl for HVM guests, there is no display unless
 * a VNC key asks for one.
 */
import { ConfigError, type SourcePosition } from '../errors.js';
import { fmt, type Reader } from './cfg-reader.js';
import type { DomainConfig, VncSpec } from './domain-config.js';

export const DISPLAY_KEYS = new Set([
  'vnc',
  'vnclisten',
  'vncdisplay',
  'vncunused',
  'vncpasswd',
  'vncconsole',
  'sdl',
  'vga',
  'stdvga',
  'videoram',
  'vfb',
]);

/** Host names and IP addresses: nothing that could end or extend a QEMU option. */
const HOST = /^[A-Za-z0-9.:-]{1,253}$|^\[[0-9A-Fa-f:.]{2,45}\]$/;
const MAX_DISPLAY = 99;

interface VncKeys {
  vnc?: { value: boolean; pos: SourcePosition };
  listen?: { value: string; pos: SourcePosition };
  display?: { value: number; pos: SourcePosition };
  unused?: { value: boolean; pos: SourcePosition };
  passwd?: { value: string; pos: SourcePosition };
}

/** The keys of a PV `vfb` entry ('vnc=1,vnclisten=0.0.0.0,vncdisplay=1'), as top-level keys. */
function vfbKeys(r: Reader): VncKeys {
  const items = r.strings('vfb');
  if (items.length === 0) return {};
  if (items.length > 1) throw new ConfigError(items[1]!.pos, `only one vfb is supported`);
  const { value, pos } = items[0]!;
  const out: VncKeys = {};
  for (const part of value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const [key = '', v = ''] = part.split('=', 2);
    if (key === 'vnc' || key === 'vncunused') {
      if (v !== '0' && v !== '1') throw new ConfigError(pos, `vfb '${key}' must be 0 or 1, got '${v}'`);
      out[key === 'vnc' ? 'vnc' : 'unused'] = { value: v === '1', pos };
    } else if (key === 'vnclisten') out.listen = { value: v, pos };
    else if (key === 'vncdisplay') {
      if (!/^[0-9]{1,2}$/.test(v))
        throw new ConfigError(pos, `vfb vncdisplay must be 0-${MAX_DISPLAY}, got '${v}'`);
      out.display = { value: Number(v), pos };
    } else if (key === 'vncpasswd') out.passwd = { value: v, pos };
    else if (key === 'sdl' && v === '1')
      throw new ConfigError(pos, `vfb 'sdl=1' is not supported: use vnc=1`);
    else if (key !== 'sdl' && key !== 'keymap')
      throw new ConfigError(
        pos,
        `unknown vfb parameter '${key}' (expected vnc, vnclisten, vncdisplay, vncunused)`,
      );
  }
  return out;
}

function vncKeys(r: Reader): VncKeys {
  const out = vfbKeys(r);
  const vnc = r.flag('vnc');
  if (vnc) out.vnc = vnc;
  const listen = r.string('vnclisten');
  if (listen) out.listen = listen;
  const display = r.number('vncdisplay', 0, MAX_DISPLAY);
  if (display !== undefined) out.display = { value: display, pos: r.get('vncdisplay')!.pos };
  const unused = r.flag('vncunused');
  if (unused) out.unused = unused;
  const passwd = r.string('vncpasswd');
  if (passwd) out.passwd = passwd;
  return out;
}

function vncSpec(k: VncKeys): VncSpec | undefined {
  const asked = k.listen ?? k.display ?? k.passwd;
  if (k.vnc?.value === false || (k.vnc === undefined && asked === undefined)) return undefined;
  if (k.passwd && k.passwd.value !== '')
    throw new ConfigError(
      k.passwd.pos,
      `'vncpasswd' is not supported: VNC is on a unix socket by default (reach it over ssh), or on the vnclisten address without a password`,
    );
  const spec: VncSpec = {};
  if (k.listen && k.listen.value !== '') {
    let host = k.listen.value;
    // xl accepts "ADDRESS:DISPLAY" in vnclisten.
    const m = /^([^:]+):([0-9]{1,2})$/.exec(host);
    if (m) {
      host = m[1] as string;
      if (k.display === undefined) spec.display = Number(m[2]);
    }
    if (!HOST.test(host))
      throw new ConfigError(
        k.listen.pos,
        `bad vnclisten '${k.listen.value}': expected a host name or IP address`,
      );
    spec.host = host;
  }
  if (k.display !== undefined) {
    if (spec.host === undefined)
      throw new ConfigError(
        k.display.pos,
        `'vncdisplay' needs 'vnclisten' (without it VNC is on a unix socket in the domain's directory)`,
      );
    spec.display = k.display.value;
  }
  // vncunused=0 without a display means display 0, as xl.
  if (spec.host !== undefined && spec.display === undefined && k.unused?.value === false) spec.display = 0;
  return spec;
}

/** Reads the display keys into `config`. */
export function applyDisplayKeys(r: Reader, config: DomainConfig, warnings: string[]): void {
  const sdl = r.flag('sdl');
  if (sdl?.value === true)
    throw new ConfigError(sdl.pos, `'sdl = 1' is not supported: the host shows no windows; use vnc = 1`);
  const vnc = vncSpec(vncKeys(r));
  const vga = r.choice('vga', ['stdvga', 'cirrus', 'none', 'qxl'] as const);
  const stdvga = r.flag('stdvga');
  if (vga === 'qxl')
    throw new ConfigError(r.get('vga')!.pos, `vga "qxl" is not supported: use stdvga or cirrus`);
  for (const key of ['vga', 'stdvga', 'videoram', 'vncconsole']) {
    const v = r.get(key);
    if (v !== undefined && vnc === undefined)
      warnings.push(`${fmt(v.pos)}: '${key}' has no effect without vnc (the domain has no display)`);
  }
  if (vnc === undefined) return;
  config.vnc = vnc;
  if (vga !== 'none') config.vga = vga === 'cirrus' && stdvga?.value !== true ? 'cirrus' : 'std';
  const videoram = r.get('videoram');
  if (videoram !== undefined)
    warnings.push(`${fmt(videoram.pos)}: 'videoram' is ignored: QEMU sizes the display adapter's memory`);
}
