/**
 * Post-copy on the source QEMU, for either RAM transport: `postcopy-ram` on, then, with each
 * progress sample, whether to switch (`migrate-start-postcopy`: passes done, time spent, or a
 * request from another shell), and once QEMU reports `postcopy-active` the caller's hook (the
 * destination then runs the guest). A post-copy whose link breaks leaves QEMU in
 * `postcopy-paused`; that ends the wait with an error instead of polling forever.
 */
import { migrateStartPostcopy, type MigrationProgress, type QmpClient } from '@xlkit/qmp';
import { XlError } from '../errors.js';

export interface PostcopyHooks {
  /** Asked with each progress sample until it says yes: switch to post-copy now? */
  due(m: MigrationProgress): boolean;
  /** QEMU reported postcopy-active: the point of no return (runs once; a failure aborts). */
  onActive(): Promise<void>;
}

export class PostcopySwitch {
  #asked = false;
  #active: Promise<void> | undefined;

  constructor(
    private readonly qmp: QmpClient,
    private readonly hooks: PostcopyHooks,
    private readonly fail: (err: unknown) => void,
  ) {}

  /** Whether QEMU reached post-copy (and the hook was started). */
  get active(): boolean {
    return this.#active !== undefined;
  }

  /** The onActive hook's run, once started. */
  get activated(): Promise<void> | undefined {
    return this.#active;
  }

  /** Feed every progress sample here. */
  sample(m: MigrationProgress): void {
    if (m.status === 'postcopy-paused') {
      throw new XlError('XL_MIGRATION', 'post-copy paused: the link between the two QEMUs broke');
    }
    if (m.status === 'postcopy-active' && this.#active === undefined) {
      this.#active = this.hooks.onActive();
      this.#active.catch((err: unknown) => this.fail(err));
      return;
    }
    if (!this.#asked && m.status === 'active' && this.hooks.due(m)) {
      this.#asked = true;
      migrateStartPostcopy(this.qmp).catch((err: unknown) => this.fail(err));
    }
  }
}

/**
 * Resuming a post-copy paused by a broken link: QEMU goes postcopy-paused -> postcopy-recover
 * -> postcopy-active -> completed. Paused again after it had left that state means the new
 * link broke too.
 */
export class RecoveryWatch {
  #left = false;

  sample(m: MigrationProgress): void {
    if (m.status !== 'postcopy-paused') {
      this.#left = true;
      return;
    }
    if (this.#left)
      throw new XlError('XL_MIGRATION', 'post-copy paused again: the new link between the two QEMUs broke');
  }
}
