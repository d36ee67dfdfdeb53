import { afterEach, onTestFinished } from 'vitest';

/** Something a test started that must not outlive it (a QEMU, a pair of namespaces). */
export interface Cleanup {
  readonly label: string;
  /** Undo it; must be safe to call twice. */
  run(): Promise<void>;
  /** Synchronous last resort, used from the process exit hook. */
  runSync(): void;
}

const live = new Set<Cleanup>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const item of [...live].reverse()) {
      try {
        item.runSync();
      } catch {
        // The process is exiting: keep undoing the rest.
      }
    }
  });
}

/**
 * Registers a cleanup. Inside a running test it runs when that test finishes, passed or
 * failed; otherwise (e.g. from beforeAll) call `cleanupAll()` in afterAll. Either way it
 * runs from a process exit hook if still pending.
 */
export function track(item: Cleanup): void {
  installExitHook();
  live.add(item);
  if (outliving > 0) return;
  try {
    onTestFinished(() => settle(item));
  } catch {
    // Not inside a test: afterAll/afterEach(cleanupAll) or the exit hook take care of it.
  }
}

let outliving = 0;

/**
 * Runs `fn` with what it tracks kept past the current test, until `cleanupAll()` (afterAll) or
 * the exit hook: for something a file's tests share (the fault matrix's guest). Only for files
 * whose tests run one at a time, as here every e2e file does.
 */
export async function outlivingTest<T>(fn: () => Promise<T>): Promise<T> {
  outliving++;
  try {
    return await fn();
  } finally {
    outliving--;
  }
}

/** Runs a cleanup now and forgets it. */
export async function settle(item: Cleanup): Promise<void> {
  if (!live.delete(item)) return;
  await item.run();
}

/**
 * Undoes everything still registered, newest first and one at a time (a mount inside a temp
 * dir is undone before the dir is removed, a QEMU is killed before its disks go); reports
 * every failure at once.
 */
export async function cleanupAll(): Promise<void> {
  const failures: unknown[] = [];
  for (const item of [...live].reverse()) {
    try {
      await settle(item);
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, 'cleanup failed');
}

/** Labels of what is still registered (for assertions and diagnostics). */
export function pendingCleanups(): string[] {
  return [...live].map((item) => item.label);
}

/** Registers `afterEach(cleanupAll)` in the calling test file. */
export function cleanupAfterEach(): void {
  afterEach(cleanupAll);
}
