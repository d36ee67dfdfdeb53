import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TestRig } from './qemu-process.js';

const rig = new TestRig();
afterEach(() => rig.cleanup());

interface SchemaEntry {
  name: string;
  'meta-type': string;
  'arg-type'?: string;
  members?: Array<{ name: string; type: string }>;
  variants?: Array<{ case: string; type: string }>;
}

/** Every argument name the typed commands send, by command (the `?`s of src/commands/*.ts). */
const USED: Record<string, string[]> = {
  stop: [],
  cont: [],
  'query-status': [],
  system_powerdown: [],
  quit: [],
  'query-version': [],
  'human-monitor-command': ['command-line', 'cpu-index'],
  'query-block': [],
  'query-named-block-nodes': ['flat'],
  'blockdev-del': ['node-name'],
  'drive-mirror': [
    'job-id',
    'device',
    'target',
    'format',
    'node-name',
    'replaces',
    'sync',
    'mode',
    'speed',
    'granularity',
    'buf-size',
    'on-source-error',
    'on-target-error',
    'unmap',
    'copy-mode',
    'auto-finalize',
    'auto-dismiss',
  ],
  'blockdev-mirror': [
    'job-id',
    'device',
    'target',
    'replaces',
    'sync',
    'speed',
    'granularity',
    'buf-size',
    'on-source-error',
    'on-target-error',
    'filter-node-name',
    'copy-mode',
    'auto-finalize',
    'auto-dismiss',
  ],
  'block-job-cancel': ['device', 'force'],
  'block-job-complete': ['device'],
  'block-job-set-speed': ['device', 'speed'],
  'job-dismiss': ['id'],
  'job-cancel': ['id'],
  'job-finalize': ['id'],
  'query-block-jobs': [],
  'nbd-server-start': ['addr', 'tls-creds', 'tls-authz', 'max-connections'],
  'block-export-del': ['id', 'mode'],
  'nbd-server-stop': [],
  migrate: ['uri', 'blk', 'inc', 'detach', 'resume'],
  'migrate-incoming': ['uri'],
  'migrate-set-capabilities': ['capabilities'],
  'migrate-set-parameters': [
    'max-bandwidth',
    'downtime-limit',
    'max-postcopy-bandwidth',
    'multifd-channels',
    'xbzrle-cache-size',
    'cpu-throttle-initial',
    'cpu-throttle-increment',
    'max-cpu-throttle',
    'tls-creds',
    'tls-hostname',
  ],
  'query-migrate': [],
  'query-migrate-capabilities': [],
  'query-migrate-parameters': [],
  'migrate-continue': ['state'],
  'migrate-start-postcopy': [],
  migrate_cancel: [],
  'migrate-pause': [],
  'migrate-recover': ['uri'],
};

/** Members of a flat union variant: block-export-add's nbd branch, blockdev-add's nbd branch. */
const VARIANT_USED: Array<{ command: string; variant: string; names: string[] }> = [
  {
    command: 'block-export-add',
    variant: 'nbd',
    names: [
      'type',
      'id',
      'node-name',
      'writable',
      'writethrough',
      'iothread',
      'fixed-iothread',
      'name',
      'description',
      'bitmaps',
      'allocation-depth',
    ],
  },
  {
    command: 'blockdev-add',
    variant: 'nbd',
    names: [
      'driver',
      'node-name',
      'server',
      'export',
      'tls-creds',
      'tls-hostname',
      'reconnect-delay',
      'open-timeout',
      'read-only',
      'auto-read-only',
      'discard',
      'detect-zeroes',
    ],
  },
];

describe("typed commands match QEMU 7.2's query-qmp-schema", () => {
  it('every command exists and every argument name we send is a member', async () => {
    const dir = await rig.tempDir();
    const c = await rig.connect(rig.startQemu(join(dir, 'q.qmp'), ['-S']));
    const schema = await c.execute<SchemaEntry[]>('query-qmp-schema');
    const byName = new Map(schema.map((e) => [e.name, e]));
    const membersOf = (typeName: string | undefined): string[] => {
      const t = typeName === undefined ? undefined : byName.get(typeName);
      return t?.members?.map((m) => m.name) ?? [];
    };
    const problems: string[] = [];
    for (const [command, names] of Object.entries(USED)) {
      const cmd = byName.get(command);
      if (cmd?.['meta-type'] !== 'command') {
        problems.push(`${command}: not a command`);
        continue;
      }
      const members = membersOf(cmd['arg-type']);
      for (const n of names) if (!members.includes(n)) problems.push(`${command}: no argument ${n}`);
    }
    for (const { command, variant, names } of VARIANT_USED) {
      const argType = byName.get(byName.get(command)?.['arg-type'] ?? '');
      const branch = argType?.variants?.find((v) => v.case === variant);
      const members = [...(argType?.members?.map((m) => m.name) ?? []), ...membersOf(branch?.type)];
      for (const n of names) if (!members.includes(n)) problems.push(`${command}/${variant}: no member ${n}`);
    }
    expect(problems).toEqual([]);
  }, 60_000);
});
