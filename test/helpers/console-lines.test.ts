import { describe, expect, it } from 'vitest';
import { diskVerifyResult, heartbeats, serialLines } from './console-lines.js';

describe('console line parsing', () => {
  it('reads only complete lines, so a half-written counter is not taken as a heartbeat', () => {
    expect(heartbeats('xlkit-heartbeat 1\r\nxlkit-heartbeat 2\r\nxlkit-heartbeat 1')).toEqual([1, 2]);
    expect(serialLines('a\r\nb')).toEqual(['a']);
  });

  it('ignores kernel messages and finds the last verify result', () => {
    const log =
      '[    1.0] virtio_blk virtio0: [vda]\r\nxlkit-disk-verify FAIL 7 bad-pattern\r\nxlkit-disk-verify ok 512\r\n';
    expect(diskVerifyResult(log)).toEqual({ ok: true, blocks: 512 });
    expect(diskVerifyResult('xlkit-disk-verify FAIL 7 generation 3 after 5\n')).toEqual({
      ok: false,
      block: 7,
      reason: 'generation 3 after 5',
    });
    expect(diskVerifyResult('xlkit-heartbeat 1\n')).toBeUndefined();
  });
});
