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
    for (const item of live) {
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
  try {
    onTestFinished(() => settle(item));
  } catch {
    // Not inside a test: afterAll/afterEach(cleanupAll) or the exit hook take care of it.
  }
}

/** Runs a cleanup now and forgets it. */
export async function settle(item: Cleanup): Promise<void> {
  if (!live.delete(item)) return;
  await item.run();
}

/** Undoes everything still registered; reports every failure at once. */
export async function cleanupAll(): Promise<void> {
  const results = await Promise.allSettled([...live].map((item) => settle(item)));
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length > 0) {
    throw new AggregateError(failures.map((f) => f.reason), 'cleanup failed');
  }
}

/** Labels of what is still registered (for assertions and diagnostics). */
export function pendingCleanups(): string[] {
  return [...live].map((item) => item.label);
}

/** Registers `afterEach(cleanupAll)` in the calling test file. */
export function cleanupAfterEach(): void {
  afterEach(cleanupAll);
}
