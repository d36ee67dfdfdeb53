/**
 * Domain state under a state directory (mode 0700):
 *   lock                   serializes xl processes (store-lock.ts)
 *   next-id                the next domain id; ids only grow, so none is reused while a domain lives
 *   domains/<id>/domain.json and the domain's runtime files (domain-paths.ts)
 * Every change is write-to-temp + rename, under the lock.
 */
import { JSON_MAX_DEPTH, jsonDepthViolation } from '@xlkit/stream';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, realpath, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { systemErrorWords, XlError } from '../errors.js';
import { releaseTaps } from '../host/net-devices.js';
import { writeAtomic, writeAtomicNow } from './write-atomic.js';
import { removeOwnedRamFile } from './ram-file.js';
import { withLock } from './store-lock.js';
import { resolveLogDir } from './log-dir.js';
import { resolveStateDir } from './state-dir.js';
import { ensureOwnDir } from './own-dir.js';
import { checkSocketPaths, domainPaths, type DomainPaths } from './domain-paths.js';
import { validateRecord, type DomainRecord, type NewDomain } from './domain-record.js';

const MAX_RECORD_BYTES = 4 << 20;

export class DomainStore {
  readonly root: string;
  /** Where domains' logs are kept (log-dir.ts); created when a domain first starts. */
  readonly logDir: string;
  private readonly lockPath: string;

  constructor(root: string, logDir = path.join(root, 'logs')) {
    this.root = root;
    this.logDir = logDir;
    this.lockPath = path.join(root, 'lock');
  }

  paths(id: number): DomainPaths {
    return domainPaths(this.root, id);
  }

  /** Host facts cached across commands (the QEMU binaries' capabilities). */
  get cacheDir(): string {
    return path.join(this.root, 'cache');
  }

  /** Runs fn while holding the state lock (do not nest: the lock is not reentrant). */
  locked<T>(fn: () => Promise<T>): Promise<T> {
    return withLock(this.lockPath, fn);
  }

  async get(id: number): Promise<DomainRecord | undefined> {
    const file = this.paths(id).record;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new XlError('XL_STATE', `cannot read ${file}: ${systemErrorWords(err)}`, { cause: err });
    }
    return parseRecord(text, file);
  }

  /** get(), without leaving the event loop's turn (see update). */
  #getNow(id: number): DomainRecord | undefined {
    const file = this.paths(id).record;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new XlError('XL_STATE', `cannot read ${file}: ${systemErrorWords(err)}`, { cause: err });
    }
    return parseRecord(text, file);
  }

  /** list(), without leaving the event loop's turn (see update). */
  #listNow(): DomainRecord[] {
    let names: string[];
    try {
      names = readdirSync(path.join(this.root, 'domains'));
    } catch {
      names = [];
    }
    return domainIds(names).flatMap((id) => this.#getNow(id) ?? []);
  }

  /** All domains, by id. Reads need no lock: records are replaced atomically. */
  async list(): Promise<DomainRecord[]> {
    const dir = path.join(this.root, 'domains');
    const names = await readdir(dir).catch(() => [] as string[]);
    const out: DomainRecord[] = [];
    for (const id of domainIds(names)) {
      const rec = await this.get(id);
      if (rec) out.push(rec);
    }
    return out;
  }

  /** Allocates a fresh id and directory for a new domain; its name must be free. */
  allocate(init: NewDomain): Promise<DomainRecord> {
    return this.locked(async () => {
      const existing = await this.list();
      const clash = existing.find((d) => d.name === init.name);
      if (clash)
        throw new XlError(
          'XL_DOMAIN_EXISTS',
          `a domain named '${init.name}' already exists (id ${clash.id})`,
          { domain: init.name },
        );
      const counterFile = path.join(this.root, 'next-id');
      const counter = Number((await readFile(counterFile, 'utf8').catch(() => '1')).trim());
      const maxLive = existing.reduce((m, d) => Math.max(m, d.id), 0);
      const id = Math.max(Number.isSafeInteger(counter) && counter > 0 ? counter : 1, maxLive + 1);
      const paths = this.paths(id);
      checkSocketPaths(paths);
      await mkdir(path.dirname(paths.dir), { recursive: true, mode: 0o700 });
      await rm(paths.dir, { recursive: true, force: true });
      await mkdir(paths.dir, { mode: 0o700 });
      const record: DomainRecord = {
        id,
        name: init.name,
        uuid: init.uuid,
        config: { ...init.config, name: init.name, uuid: init.uuid },
        status: init.status ?? 'creating',
        createdAt: new Date().toISOString(),
        ownerPid: process.pid,
        ...(init.createdDisks === undefined ? {} : { createdDisks: init.createdDisks }),
        ...(init.ramFile === undefined ? {} : { ramFile: init.ramFile }),
        ...(init.receivedBy === undefined ? {} : { receivedBy: init.receivedBy }),
      };
      await writeAtomic(paths.record, `${JSON.stringify(record, null, 2)}\n`);
      await writeAtomic(counterFile, `${id + 1}\n`);
      return record;
    });
  }

  /**
   * Read-modify-write of one record under the lock. fn may throw to abort. The reads and the
   * write are synchronous (a few small files, well under a millisecond): a migration's
   * switch-over updates records while the guest is paused, and with every file operation a
   * round trip through libuv's pool, a busy process took tens of ms per update there.
   */
  update(
    id: number,
    fn: (record: DomainRecord, all: DomainRecord[]) => DomainRecord | Promise<DomainRecord>,
  ): Promise<DomainRecord> {
    return this.locked(async () => {
      const all = this.#listNow();
      const current = all.find((d) => d.id === id);
      if (!current)
        throw new XlError('XL_DOMAIN_NOT_FOUND', `domain ${id} no longer exists`, { domain: String(id) });
      const next = await fn(structuredClone(current), all);
      if (next.id !== id) throw new XlError('XL_STATE', `update of domain ${id} tried to change its id`);
      if (all.some((d) => d.id !== id && d.name === next.name)) {
        throw new XlError('XL_DOMAIN_EXISTS', `a domain named '${next.name}' already exists`, {
          domain: next.name,
        });
      }
      next.config = { ...next.config, name: next.name };
      writeAtomicNow(this.paths(id).record, `${JSON.stringify(next, null, 2)}\n`);
      return next;
    });
  }

  /**
   * Removes a domain's record and runtime files, and then the tap devices the record says xl
   * created (every way a domain goes ends here: destroy, reaping, migration away, a failed
   * start). With `guard`, only when guard(current record) holds (checked under the lock);
   * returns whether it removed anything. Taps that cannot be removed are reported on
   * `onProblem` (default: ignored), as the domain is gone either way.
   */
  async remove(
    id: number,
    guard?: (record: DomainRecord | undefined) => boolean,
    onProblem: (problem: string) => void = () => undefined,
  ): Promise<boolean> {
    const taken = await this.locked(async () => {
      const current = await this.get(id).catch(() => undefined);
      if (guard && !guard(current)) return undefined;
      const dir = this.paths(id).dir;
      // Rename first so a concurrent reader never sees a half-removed directory.
      const doomed = `${dir}.removed-${randomBytes(4).toString('hex')}`;
      try {
        await rename(dir, doomed);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new XlError('XL_STATE', `cannot remove ${dir}: ${systemErrorWords(err)}`, { cause: err });
      }
      return { doomed, record: current };
    });
    if (taken === undefined) return false;
    const { doomed, record } = taken;
    if (record?.taps !== undefined && record.taps.length > 0)
      for (const p of await releaseTaps(record.taps, record)) onProblem(p);
    await rm(doomed, { recursive: true, force: true });
    // A shared-memory domain's RAM goes with it (unless an upgrade's other QEMU owns it now).
    await removeOwnedRamFile(record?.ramFile);
    return true;
  }
}

/** The domain ids among a directory's entries, in order. */
function domainIds(names: readonly string[]): number[] {
  return names
    .filter((n) => /^[1-9][0-9]{0,8}$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}

/** A record file's text, checked (bounded, shallow JSON, the record's schema). */
function parseRecord(text: string, file: string): DomainRecord {
  if (text.length > MAX_RECORD_BYTES)
    throw new XlError('XL_STATE', `corrupt domain record ${file}: too large`);
  const deep = jsonDepthViolation(text);
  if (deep !== undefined)
    throw new XlError(
      'XL_STATE',
      `corrupt domain record ${file}: JSON nests deeper than ${JSON_MAX_DEPTH} at byte ${deep.offset}`,
    );
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new XlError('XL_STATE', `corrupt domain record ${file}: not JSON`, { cause: err });
  }
  return validateRecord(json, file);
}

/**
 * Opens the state directory chosen by resolveStateDir: created 0700 when missing, else it must
 * be xl's own (own-dir.ts). Its path is made canonical, so every xl spelling it differently
 * (a symlinked parent, /var/run for /run) names the same sockets and pid files. The log dir is
 * resolveLogDir's (--log-dir `logDir`, XL_LOG_DIR, ...).
 */
export async function openStore(
  stateDir?: string,
  env: NodeJS.ProcessEnv = process.env,
  logDir?: string,
): Promise<DomainStore> {
  const given = resolveStateDir(stateDir, env);
  const stateDirChosen = (stateDir ?? '') !== '' || (env.XL_STATE_DIR ?? '') !== '';
  await ensureOwnDir(given);
  let root: string;
  try {
    root = await realpath(given);
  } catch (err) {
    throw new XlError('XL_STATE', `cannot use state directory ${given}: ${systemErrorWords(err)}`, {
      cause: err,
    });
  }
  await ensureOwnDir(path.join(root, 'domains'));
  return new DomainStore(root, resolveLogDir(logDir, root, stateDirChosen, env));
}
