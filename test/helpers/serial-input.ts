import net from 'node:net';

/** Guest commands accepted on the serial console (tools/guest/README.md). */
export const GUEST_COMMAND = {
  /** Stop the disk writer (between blocks) and verify the disk: prints a disk-verify line. */
  diskVerify: 'xlkit-disk verify',
  /** (Re)start the disk writer; it resumes an interrupted pass. */
  diskWrite: 'xlkit-disk write',
} as const;

/** Sends one line to the guest's serial console through its unix socket (bootGuest serialInput). */
export function sendSerialLine(serialSocket: string, line: string, timeoutMs = 5_000): Promise<void> {
  if (line.includes('\n')) throw new Error('a serial command is one line');
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(serialSocket);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`serial socket ${serialSocket}: no connection in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('connect', () => {
      socket.end(`${line}\n`, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  });
}
