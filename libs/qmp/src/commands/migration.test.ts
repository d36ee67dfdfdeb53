import { describe, expect, it } from 'vitest';
import { withFakeClient } from '../testing/index.js';
import {
  migrate,
  migrateCancel,
  migrateContinue,
  migrateIncoming,
  migratePause,
  migrateRecover,
  migrateSetCapabilities,
  migrateSetParameters,
  migrateStartPostcopy,
  queryMigrate,
  queryMigrateCapabilities,
  queryMigrateParameters,
} from './migration.js';

describe('migration commands', () => {
  it('send QEMU 7.2 names, including the underscore in migrate_cancel', async () => {
    const ok = (): object => ({});
    await withFakeClient(
      {
        handlers: {
          migrate: ok,
          'migrate-incoming': ok,
          'migrate-set-capabilities': ok,
          'migrate-set-parameters': ok,
          'migrate-continue': ok,
          'migrate-start-postcopy': ok,
          migrate_cancel: ok,
          'migrate-pause': ok,
          'migrate-recover': ok,
          'query-migrate': () => ({}),
          'query-migrate-capabilities': () => [{ capability: 'events', state: true }],
          'query-migrate-parameters': () => ({ 'max-bandwidth': 134217728, 'downtime-limit': 300 }),
        },
      },
      async (c, server) => {
        await migrateSetCapabilities(c, [
          { capability: 'events', state: true },
          { capability: 'pause-before-switchover', state: true },
        ]);
        await migrateSetParameters(c, { 'max-bandwidth': 1 << 30, 'downtime-limit': 500 });
        await migrateIncoming(c, { uri: 'unix:/m.sock' });
        await migrate(c, { uri: 'unix:/m.sock' });
        await migrateContinue(c, { state: 'pre-switchover' });
        await migrateStartPostcopy(c);
        await migratePause(c);
        await migrateRecover(c, { uri: 'unix:/r.sock' });
        await migrateCancel(c);
        expect(await queryMigrate(c)).toEqual({});
        expect(await queryMigrateCapabilities(c)).toEqual([{ capability: 'events', state: true }]);
        expect((await queryMigrateParameters(c))['downtime-limit']).toBe(300);
        expect(server.commands.slice(1, 10).map((x) => [x.execute, x.arguments])).toEqual([
          [
            'migrate-set-capabilities',
            {
              capabilities: [
                { capability: 'events', state: true },
                { capability: 'pause-before-switchover', state: true },
              ],
            },
          ],
          ['migrate-set-parameters', { 'max-bandwidth': 1073741824, 'downtime-limit': 500 }],
          ['migrate-incoming', { uri: 'unix:/m.sock' }],
          ['migrate', { uri: 'unix:/m.sock' }],
          ['migrate-continue', { state: 'pre-switchover' }],
          ['migrate-start-postcopy', undefined],
          ['migrate-pause', undefined],
          ['migrate-recover', { uri: 'unix:/r.sock' }],
          ['migrate_cancel', undefined],
        ]);
      },
    );
  });
});
