import { describe, expect, it } from 'vitest';
import { ChannelPostQueue, rateLimitDelayMs, withRateLimitRetry } from '../../../adapters/slack/post-queue.js';

function rateLimited(retryAfter: number): Error {
  return Object.assign(new Error('rate limited'), { code: 'slack_webapi_rate_limited_error', retryAfter });
}

describe('ChannelPostQueue', () => {
  it('spaces new messages in one channel by the minimum interval, and does not hold up other channels', async () => {
    const queue = new ChannelPostQueue({ minIntervalMs: 150 });
    const sent: { channel: string; at: number }[] = [];
    const post = (channel: string) => queue.post(channel, async () => sent.push({ channel, at: Date.now() }));
    await Promise.all([post('C1'), post('C1'), post('C1'), post('C2')]);
    const c1 = sent.filter((s) => s.channel === 'C1').map((s) => s.at);
    expect(c1).toHaveLength(3);
    expect(c1[1] - c1[0]).toBeGreaterThanOrEqual(145);
    expect(c1[2] - c1[1]).toBeGreaterThanOrEqual(145);
    // C2 went out before C1's second message: lanes are independent.
    expect(sent.findIndex((s) => s.channel === 'C2')).toBeLessThan(2);
  });

  it('sends only the latest pending status update of a message', async () => {
    const queue = new ChannelPostQueue({ minIntervalMs: 100 });
    const sent: string[] = [];
    // A post occupies the lane while the updates pile up behind it.
    const first = queue.post('C1', async () => sent.push('post-1'));
    const blocker = queue.post('C1', async () => sent.push('post-2'));
    const updates = ['v1', 'v2', 'v3'].map((v) => queue.update('C1', 'ts-1', async () => sent.push(`update-${v}`)));
    const other = queue.update('C1', 'ts-2', async () => sent.push('update-other'));
    await Promise.all([first, blocker, ...updates, other]);
    expect(sent).toEqual(['post-1', 'post-2', 'update-v3', 'update-other']);
  });

  it('retries a rate-limited call once after the Retry-After delay, not before', async () => {
    const slept: number[] = [];
    let calls = 0;
    const result = await withRateLimitRetry(
      async () => {
        calls += 1;
        if (calls === 1) throw rateLimited(3);
        return 'sent';
      },
      { sleep: async (ms) => void slept.push(ms) },
    );
    expect(result).toBe('sent');
    expect(calls).toBe(2);
    expect(slept).toEqual([3000]);
  });

  it('gives up after the retry limit and passes other errors through untouched', async () => {
    let calls = 0;
    await expect(
      withRateLimitRetry(
        async () => {
          calls += 1;
          throw rateLimited(0);
        },
        { maxRetries: 2, sleep: async () => {} },
      ),
    ).rejects.toThrow('rate limited');
    expect(calls).toBe(3);
    calls = 0;
    await expect(
      withRateLimitRetry(
        async () => {
          calls += 1;
          throw new Error('channel_not_found');
        },
        { sleep: async () => {} },
      ),
    ).rejects.toThrow('channel_not_found');
    expect(calls).toBe(1);
    expect(rateLimitDelayMs(new Error('x'))).toBeUndefined();
  });
});
