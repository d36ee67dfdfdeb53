import { describe, expect, test } from 'vitest';
import { describePeerHost, ownHostIdentity } from './host-identity.js';

const own = { hostname: 'alpha', bootId: 'aaaa' };
const ssh = { host: '10.0.0.2', hostIsCommand: false };
const command = { host: 'node xl.js --state-dir /b migrate-receive', hostIsCommand: true };

describe('where a migrated domain runs, in words', () => {
  test('this host when the peer shares our kernel', () => {
    expect(describePeerHost({ hostname: 'alpha', bootId: 'aaaa' }, command, own)).toBe('this host (alpha)');
    expect(describePeerHost({ bootId: 'aaaa' }, command, own)).toBe('this host');
    // Another network namespace of this kernel, reached over ssh.
    expect(describePeerHost({ hostname: 'alpha', bootId: 'aaaa' }, ssh, own)).toBe(
      'this host (alpha, reached as 10.0.0.2)',
    );
  });

  test("another host by the name it reports, never the receiver's command words", () => {
    expect(describePeerHost({ hostname: 'beta', bootId: 'bbbb' }, command, own)).toBe('beta');
    expect(describePeerHost({ hostname: 'beta' }, ssh, own)).toBe('beta (reached as 10.0.0.2)');
    expect(describePeerHost({ hostname: 'beta' }, { host: 'beta', hostIsCommand: false }, own)).toBe('beta');
  });

  test('an older peer without a name: the HOST argument, or a phrase when HOST is a command', () => {
    expect(describePeerHost({}, ssh, own)).toBe('10.0.0.2');
    expect(describePeerHost(undefined, command, own)).toBe("the receiver's host");
  });

  test("this host's identity is what a peer accepts", () => {
    const me = ownHostIdentity();
    if (me.hostname !== undefined) expect(me.hostname).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
    expect(me.bootId).toMatch(/^[0-9a-f-]+$/);
  });
});
