import path from 'node:path';
import { execa } from 'execa';

/** Creates an empty disk image with qemu-img; returns its path. */
export async function createDiskImage(
  dir: string,
  name: string,
  sizeMiB: number,
  format: 'raw' | 'qcow2' = 'raw',
): Promise<string> {
  const file = path.join(dir, name);
  await execa('qemu-img', ['create', '-q', '-f', format, file, `${sizeMiB}M`]);
  return file;
}

/** Converts an image to raw (e.g. a qcow2 before verifyDiskImage); returns the raw path. */
export async function convertToRaw(image: string, rawPath: string): Promise<string> {
  await execa('qemu-img', ['convert', '-O', 'raw', image, rawPath]);
  return rawPath;
}
