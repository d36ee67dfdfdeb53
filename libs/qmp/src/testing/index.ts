export {
  FAKE_QEMU_VERSION,
  FakeCommandError,
  FakeQmpServer,
  NO_REPLY,
  type FakeCommandContext,
  type FakeHandler,
  type FakeQmpServerOptions,
  type RecordedCommand,
} from './fake-qmp-server.js';
export { withFakeClient } from './with-fake-client.js';
