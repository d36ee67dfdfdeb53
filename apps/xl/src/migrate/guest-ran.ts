/**
 * Whether an incoming QEMU's vCPUs ran after the take-over's `cont`. An incoming QEMU takes
 * `cont` before it loaded the device state and only marks itself to start then; RESUME is the
 * proof that the guest ran. In post-copy that tells a destination whose QEMU died with the guest
 * never run on it (the source's paused copy is then the whole guest) from one that ran it.
 */
import type { QmpClient } from '@xlkit/qmp';

/** Armed before `cont` (so no RESUME is missed); false until RESUME came, and for good if QEMU went first. */
export function watchGuestRan(q: QmpClient): () => boolean {
  let ran = false;
  q.waitForEvent('RESUME').then(
    () => (ran = true),
    () => undefined,
  );
  return () => ran;
}
