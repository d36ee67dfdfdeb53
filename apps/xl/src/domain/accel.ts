/**
 * Which accelerator a domain gets. `accel = "tcg"` or `"kvm"` in the config is used as written;
 * `auto` (the default) is `XL_ACCEL` when that is set, else KVM when a probe guest runs under
 * it on this host and QEMU (qemu/kvm-probe.ts), else TCG, with the reason in words.
 * A restored or incoming domain keeps the accelerator it ran under: `auto` there means "the
 * source's, if this host can run it", and a host that cannot says so before anything starts.
 */
import { DEFAULT_QEMU, type DomainConfig } from '../config/domain-config.js';
import { XlError } from '../errors.js';
import { kvmVerdict, type runKvmProbe } from '../qemu/kvm-probe.js';

export type Accelerator = 'tcg' | 'kvm';

/** A DOMAIN_INFO's accelerator (a peer's or a file's word), if it is one xl knows. */
export function knownAccel(value: string): Accelerator | undefined {
  return value === 'tcg' || value === 'kvm' ? value : undefined;
}

export interface AccelChoice {
  accel: Accelerator;
  /** Why, for the one line xl prints: `accel = "tcg" in the config`, `XL_ACCEL=kvm`, the probe's verdict. */
  why: string;
}

export interface AccelOptions {
  /** Where the KVM verdict is cached (the state directory's cache). */
  cacheDir: string;
  env?: NodeJS.ProcessEnv;
  /** False in a dry run: use a cached verdict, never start the probe. */
  spawn?: boolean;
  /** Tests: a different probe, and device node. */
  probe?: typeof runKvmProbe;
  device?: string;
}

function forced(env: NodeJS.ProcessEnv): Accelerator | undefined {
  const v = env['XL_ACCEL'];
  if (v === undefined || v === '') return undefined;
  if (v !== 'tcg' && v !== 'kvm')
    throw new XlError('XL_CONFIG', `XL_ACCEL must be "tcg" or "kvm", got ${JSON.stringify(v.slice(0, 40))}`);
  return v;
}

/**
 * The accelerator for a new domain; undefined only for `auto` in a dry run with no cached
 * verdict (nothing is started to find out).
 */
export async function chooseAccel(
  config: Pick<DomainConfig, 'accel' | 'deviceModel'>,
  o: AccelOptions,
): Promise<AccelChoice | undefined> {
  if (config.accel !== 'auto') return { accel: config.accel, why: `accel = "${config.accel}" in the config` };
  const env = forced(o.env ?? process.env);
  if (env !== undefined) return { accel: env, why: `XL_ACCEL=${env}` };
  const verdict = await kvmVerdict(config.deviceModel ?? DEFAULT_QEMU, o.cacheDir, {
    spawn: o.spawn !== false,
    ...(o.probe ? { probe: o.probe } : {}),
    ...(o.device ? { device: o.device } : {}),
  });
  if (verdict === undefined) return undefined;
  const why = verdict.cached === true ? `${verdict.why}; cached` : verdict.why;
  return { accel: verdict.works ? 'kvm' : 'tcg', why };
}

/**
 * The accelerator a restored or incoming domain that ran under `ran` gets here: `ran` when the
 * config and this host allow it, else what this host would use instead and why.
 */
export async function incomingAccel(
  config: Pick<DomainConfig, 'accel' | 'deviceModel'>,
  ran: Accelerator,
  o: AccelOptions,
): Promise<AccelChoice> {
  if (config.accel !== 'auto') return { accel: config.accel, why: `accel = "${config.accel}" in the config` };
  const env = forced(o.env ?? process.env);
  if (env !== undefined) return { accel: env, why: `XL_ACCEL=${env}` };
  if (ran === 'tcg') return { accel: 'tcg', why: 'the domain runs under tcg' };
  const chosen = await chooseAccel(config, { ...o, spawn: true });
  return chosen ?? { accel: 'tcg', why: 'KVM was not probed' };
}

/** The one line xl prints about an `auto` choice. */
export function describeAccel(choice: AccelChoice | undefined): string {
  return choice === undefined
    ? 'accel: auto (not probed in a dry run)'
    : `accel: ${choice.accel} (${choice.why})`;
}
