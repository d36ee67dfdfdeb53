/**
 * Dropping a file's clean pages from the page cache (posix_fadvise POSIX_FADV_DONTNEED, which
 * Node does not expose) through GNU dd's documented form for it: `dd if=FILE iflag=nocache
 * count=0`. The file itself is not touched.
 *
 * An atomic save writes the new file beside the old one, so without this the old file's
 * cached pages stay pinned until the rename frees them and the new file needs as much memory
 * again; `cat > FILE` gets the old pages back at once by truncating. Measured for a 1.1 GB
 * save here: 2.7-3.3 s of system time and 3.2-3.7 s in all with the old file cached, against
 * 0.6-0.8 s and 1.4-1.7 s with its cache dropped first.
 */
import { lstat } from 'node:fs/promises';
import { execa } from 'execa';

/** Best effort: false when FILE is not a regular file or dd failed. */
export async function dropPageCache(file: string): Promise<boolean> {
  const st = await lstat(file).catch(() => undefined);
  if (st === undefined || !st.isFile()) return false;
  const r = await execa('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none'], {
    reject: false,
    timeout: 10_000,
    stdin: 'ignore',
  });
  return !r.failed;
}
