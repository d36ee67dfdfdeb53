/**
 * The address the sender reached us at (ssh sets SSH_CONNECTION), else loopback (the same
 * host): where a direct transport listens, so that the sender can connect.
 */
export function directListenHost(env: NodeJS.ProcessEnv): string {
  const server = env.SSH_CONNECTION?.trim().split(/\s+/)[2];
  return server !== undefined && /^[0-9a-fA-F:.]+$/.test(server) ? server : '127.0.0.1';
}

/** No ssh in between: the sender runs on this host (`-s ''` or a local pipe). */
export function senderOnThisHost(env: NodeJS.ProcessEnv): boolean {
  return env.SSH_CONNECTION === undefined || env.SSH_CONNECTION.trim() === '';
}
