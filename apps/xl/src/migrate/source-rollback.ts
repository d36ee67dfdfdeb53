/**
 * Puts the source domain back exactly as it was before a migration that failed before GO:
 * its name, its run state (QEMU resumes a cancelled migration by itself, but a completed one
 * leaves it in `postmigrate`, which needs `cont`), its recorded status.
 */
import { cont, type QmpClient } from '@xlkit/qmp';
import type { DomainRecord, DomainStatus } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { queryRunState } from '../domain/qmp.js';
import { errorMessage } from '../errors.js';
import { updateMark } from './migration-mark.js';

export interface SourceBefore {
  name: string;
  status: DomainStatus;
  running: boolean;
}

/** Returns the run state the source is left in ('running', 'paused', ...), or a problem. */
export async function rollbackSource(
  store: DomainStore,
  record: DomainRecord,
  qmp: QmpClient | undefined,
  before: SourceBefore,
): Promise<{ state: string; problem?: string }> {
  let state = 'unknown';
  let problem: string | undefined;
  if (qmp !== undefined) {
    try {
      let now = await queryRunState(qmp);
      if (before.running && !now.running) {
        await cont(qmp);
        now = await queryRunState(qmp);
      }
      state = now.status;
      if (before.running && !now.running) problem = `it is ${now.status}, not running`;
    } catch (err) {
      problem = `cannot check or resume it: ${errorMessage(err)}`;
    }
  }
  try {
    await store.update(record.id, (r) => ({
      // Back before the point of no return: a recovery would resume it again.
      ...updateMark(r, { pastGo: false }),
      name: before.name,
      status: before.running ? 'running' : before.status,
    }));
  } catch (err) {
    problem = `${problem ? `${problem}; ` : ''}cannot restore its record: ${errorMessage(err)}`;
  }
  return { state, ...(problem === undefined ? {} : { problem }) };
}
