import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  creationMarker,
  identifyFile,
  markedIdentity,
  removeIdentified,
  removeMarkerOf,
} from './file-identity.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'xl-identity-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function marked(name: string): Promise<string> {
  const image = path.join(dir, name);
  await writeFile(image, 'disk');
  const st = await stat(image);
  await writeFile(creationMarker(image), `${st.dev}:${st.ino}\n`);
  return image;
}

describe('creation markers', () => {
  it('sit beside the image, hidden', () => {
    expect(creationMarker('/srv/disks/web.raw')).toBe('/srv/disks/.web.raw.xl-target');
  });

  it('prove an image xl made, which can then be removed with its identity', async () => {
    const image = await marked('web.raw');
    const id = await markedIdentity(image);
    expect(id).toMatchObject({ path: image });
    expect(await removeIdentified(id!)).toBe(true);
  });

  it('prove nothing when the marker names another file, is missing, or the image is a symlink', async () => {
    const image = await marked('a.raw');
    const other = await marked('b.raw');
    await writeFile(creationMarker(image), await readFile(creationMarker(other), 'utf8'));
    expect(await markedIdentity(image)).toBeUndefined();
    expect(await markedIdentity(path.join(dir, 'none.raw'))).toBeUndefined();
    const link = path.join(dir, 'link.raw');
    await symlink(other, link);
    await writeFile(creationMarker(link), await readFile(creationMarker(other), 'utf8'));
    expect(await markedIdentity(link)).toBeUndefined();
  });

  it('go with their image only when they name it: device and inode, a plain file', async () => {
    const image = await marked('web.raw');
    const id = (await identifyFile(image))!;
    expect(await removeMarkerOf(id)).toBe(true);
    expect(existsSync(creationMarker(image))).toBe(false);
    expect(await removeMarkerOf(id)).toBe(true); // already gone

    // A marker naming another image (its own, copied here) stays, and so does a symlink.
    const other = await marked('other.raw');
    await writeFile(creationMarker(image), await readFile(creationMarker(other), 'utf8'));
    expect(await removeMarkerOf(id)).toBe(false);
    expect(existsSync(creationMarker(image))).toBe(true);
    await rm(creationMarker(image));
    await symlink(creationMarker(other), creationMarker(image));
    expect(await removeMarkerOf(id)).toBe(false);
    expect(existsSync(creationMarker(other))).toBe(true);
  });
});
