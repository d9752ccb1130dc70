import { isIPv4, isIPv6 } from 'node:net';
import type { DeviceFingerprint } from '@khata/schemas';

/** What the HTTP layer knows about the caller's device. */
export interface DeviceInput {
  readonly userAgent?: string | null;
  /** The client's address (after trusted proxies were unwrapped). */
  readonly ip?: string | null;
  /** An id the client keeps for itself (a cookie, an app install id). */
  readonly clientDeviceId?: string | null;
}

const USER_AGENT_LENGTH_MAX = 512;
const CLIENT_DEVICE_ID_LENGTH_MAX = 128;
const IPV6_GROUPS = 8;

/**
 * A session's device fingerprint: the user agent, the network the address belongs to (IPv4 /24, IPv6
 * /48 — enough to tell "same office" from "another country" without storing whole addresses), and the
 * client's own device id.
 */
export function deviceFingerprint(input: DeviceInput = {}): DeviceFingerprint {
  const clientDeviceId = input.clientDeviceId?.trim().slice(0, CLIENT_DEVICE_ID_LENGTH_MAX) ?? '';
  return {
    userAgent: (input.userAgent ?? '').slice(0, USER_AGENT_LENGTH_MAX),
    ipPrefix: input.ip === undefined || input.ip === null ? null : ipPrefix(input.ip),
    clientDeviceId: clientDeviceId === '' ? null : clientDeviceId,
  };
}

/** `203.0.113.7` → `203.0.113.0/24`; `2001:db8:1:2::7` → `2001:db8:1::/48`; anything else → null. */
export function ipPrefix(address: string): string | null {
  const ip = address
    .trim()
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const v4 = mapped?.[1] ?? ip;
  if (isIPv4(v4)) return `${v4.split('.').slice(0, 3).join('.')}.0/24`;
  if (!isIPv6(ip)) return null;
  const groups = ipv6Groups(ip);
  return `${groups
    .slice(0, 3)
    .map((group) => group.toString(16))
    .join(':')}::/48`;
}

function ipv6Groups(ip: string): number[] {
  const [head = '', tail] = ip.split('::') as [string, string | undefined];
  const parse = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [Number.parseInt(group, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const front = parse(head);
  const back = tail === undefined ? [] : parse(tail);
  return [...front, ...new Array<number>(IPV6_GROUPS - front.length - back.length).fill(0), ...back];
}
