/** The source port, with every RAM progress report also shown to an observer (the live status). */
import type { RamProgress } from '../ram/outgoing.js';
import type { SourcePort } from './source-port.js';

export function observeRam(port: SourcePort, see: (p: RamProgress) => void): SourcePort {
  const seen = <O extends { onProgress: (p: RamProgress) => void }>(o: O): O => ({
    ...o,
    onProgress: (p: RamProgress) => {
      see(p);
      o.onProgress(p);
    },
  });
  return {
    ...port,
    get qmp() {
      return port.qmp;
    },
    sendRam: (o) => port.sendRam(seen(o)),
    sendRamDirect: (o) => port.sendRamDirect(seen(o)),
  };
}
