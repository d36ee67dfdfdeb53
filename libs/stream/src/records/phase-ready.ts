/**
 * PHASE_READY (receiver to sender): the receiver has done its part of a phase (e.g. phase 1:
 * QEMU is up with -incoming defer) and the sender may go on. Same body as PHASE.
 */
import { XLKIT_MANDATORY_BASE } from '../constants.js';
import { definePhaseRecord } from './phase.js';

export const PHASE_READY = definePhaseRecord(
  XLKIT_MANDATORY_BASE + 7,
  'PHASE_READY',
  (p) => `receiver ready after phase ${p}`,
);
