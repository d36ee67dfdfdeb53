/** Wire-level shapes of QMP (docs/interop/qmp-spec.rst) as QEMU 7.2 sends them. */

export interface QmpVersion {
  qemu: { major: number; minor: number; micro: number };
  package: string;
}

export interface QmpGreeting {
  version: QmpVersion;
  capabilities: string[];
}

export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

/** When QEMU emitted `ev`, in ms since the epoch (QEMU stamps events with the host's wall clock). */
export function eventTimeMs(ev: QmpEvent): number {
  return ev.timestamp.seconds * 1000 + ev.timestamp.microseconds / 1000;
}

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
