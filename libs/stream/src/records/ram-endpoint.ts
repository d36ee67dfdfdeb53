/**
 * RAM_ENDPOINT (receiver to sender, phase 3 of a migration with the `direct-ram` feature): the
 * incoming QEMU listens for the source QEMU's migration stream itself, and this says where: a
 * TCP address and port, or a unix socket when the sender is on the same host. xl then carries
 * no RAM: it only orchestrates over the pipe.
 */
import { XLKIT_MANDATORY_BASE } from '../constants.js';
import { defineRecord } from '../record-codec.js';
import { jsonBody } from './json-body.js';
import { fields, type Obj } from './mirror-json.js';

export type RamEndpoint =
  { transport: 'tcp'; host: string; port: number } | { transport: 'unix'; path: string };

export const RAM_ENDPOINT_TYPE = XLKIT_MANDATORY_BASE + 9;
export const RAM_ENDPOINT_MAX = 4096;
/** sun_path holds 108 bytes with the terminating NUL. */
const UNIX_PATH_MAX = 107;
/** An IPv4 or IPv6 literal: what QEMU's tcp: URI takes without a name lookup. */
const IP_LITERAL = /^(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9a-fA-F:]{2,39})$/;
const WHAT = 'RAM endpoint';

const json = jsonBody({ type: RAM_ENDPOINT_TYPE, what: WHAT, maxLength: RAM_ENDPOINT_MAX });

export function checkRamEndpoint(o: Obj, at = 0): RamEndpoint {
  const f = fields(WHAT, at, RAM_ENDPOINT_TYPE);
  const transport = f.oneOf(o, 'transport', ['tcp', 'unix'] as const);
  if (transport === 'unix') {
    const path = f.str(o, 'path', UNIX_PATH_MAX);
    if (!path.startsWith('/') || Buffer.byteLength(path) > UNIX_PATH_MAX) {
      throw f.bad(`path must be an absolute path of at most ${UNIX_PATH_MAX} bytes`);
    }
    return { transport, path };
  }
  const host = f.str(o, 'host', 39);
  if (!IP_LITERAL.test(host))
    throw f.bad(`host must be an IPv4 or IPv6 address, got ${JSON.stringify(host)}`);
  return { transport, host, port: f.int(o, 'port', 1, 65535) };
}

export const RAM_ENDPOINT = defineRecord<RamEndpoint>({
  type: RAM_ENDPOINT_TYPE,
  name: 'RAM_ENDPOINT',
  minLength: json.minLength,
  maxLength: json.maxLength,
  maxCount: 1,
  decode: (body, len, at) => checkRamEndpoint(json.decode(body, len, at), at),
  encode: (v) => json.encode(checkRamEndpoint(v as unknown as Obj)),
  summary: (v) => (v.transport === 'unix' ? `unix:${v.path}` : `tcp:${v.host}:${v.port}`),
});
