import { describe, expect, it } from 'vitest';
import { isPrivateAddress, resolveWebhookHost } from '../../src/service/webhook-target.js';

/** Issue 28, item 6: IPv6 addresses that carry a private or loopback IPv4 address are private too. */
describe('webhook targets: IPv4 embedded in IPv6', () => {
  it.each([
    '::127.0.0.1', '::7f00:1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:0:7f00:1', '::ffff:0:10.0.0.1',
    '64:ff9b::127.0.0.1', '64:ff9b::a9fe:a9fe', '64:ff9b:1::7f00:1', '64:ff9b:1::8.8.8.8',
    '2002:7f00:1::1', '2002:a00:1::', '2002:c0a8:101::5', '2002:a9fe:a9fe::1',
  ])('%s is refused', async (address) => {
    expect(isPrivateAddress(address)).toBe(true);
    // The delivery-time check (the address actually connected to) refuses it too.
    await expect(resolveWebhookHost(`[${address}]`, false)).rejects.toMatchObject({ code: 'validation_failed' });
  });

  it.each(['::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1', '2606:4700:4700::1111', '8.8.8.8'])('%s (public) is allowed', (address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });
});
