/** Test-only: the smallest valid domain config (64 MiB, one vCPU, no disk), by name. */
import type { DomainConfig } from '../config/domain-config.js';

export function testDomainConfig(name = 'x', extra: Partial<DomainConfig> = {}): DomainConfig {
  return {
    name,
    memory: 64,
    vcpus: 1,
    disks: [],
    vifs: [],
    serial: 'none',
    onPoweroff: 'destroy',
    onReboot: 'restart',
    onCrash: 'destroy',
    accel: 'tcg',
    memoryBacking: 'anonymous',
    ...extra,
  };
}
