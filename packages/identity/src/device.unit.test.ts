import { describe, expect, it } from 'vitest';
import { deviceFingerprint, ipPrefix } from './device.ts';

describe('device fingerprint', () => {
  it('keeps the network, not the address: IPv4 /24 and IPv6 /48', () => {
    expect(ipPrefix('203.0.113.7')).toBe('203.0.113.0/24');
    expect(ipPrefix('::ffff:203.0.113.7')).toBe('203.0.113.0/24');
    expect(ipPrefix('2001:db8:1:2::7')).toBe('2001:db8:1::/48');
    expect(ipPrefix('2001:0DB8:0001:0002:0003:0004:0005:0006')).toBe('2001:db8:1::/48');
    expect(ipPrefix('[2001:db8::1]')).toBe('2001:db8:0::/48');
    expect(ipPrefix('fe80::1%eth0')).toBe('fe80:0:0::/48');
    expect(ipPrefix('::1')).toBe('0:0:0::/48');
    expect(ipPrefix('not an address')).toBeNull();
  });

  it('bounds what the client sends', () => {
    const device = deviceFingerprint({ userAgent: 'x'.repeat(2_000), ip: '198.51.100.20', clientDeviceId: '  ' });
    expect(device.userAgent).toHaveLength(512);
    expect(device).toMatchObject({ ipPrefix: '198.51.100.0/24', clientDeviceId: null });
    expect(deviceFingerprint()).toEqual({ userAgent: '', ipPrefix: null, clientDeviceId: null });
  });
});
