/** A token bucket: `ratePerSec` tokens a second, at most `burst` saved up. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly ratePerSec: number, private readonly burst: number, now = Date.now()) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token; false when the bucket is empty. */
  take(now = Date.now()): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is available (0 when one is). */
  waitMs(now = Date.now()): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.ratePerSec) * 1000);
  }

  /** True when the bucket has been full for a while (nothing to remember about this user). */
  full(now = Date.now()): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.last) / 1000;
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.ratePerSec);
  }
}

/**
 * One bucket per user on this replica, shared by every way a user sends (WebSocket send and
 * publish, HTTP POST /send and publish): opening more connections or switching to HTTP buys no
 * more messages. Full buckets are forgotten periodically, so memory follows active senders.
 */
export class UserRateLimits {
  private readonly buckets = new Map<string, TokenBucket>();
  private sweeps = 0;

  constructor(private readonly ratePerSec: number, private readonly burst: number) {}

  /** Takes one token for the user: 0 when allowed, else the milliseconds to wait. */
  take(userId: string, now = Date.now()): number {
    let bucket = this.buckets.get(userId);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.ratePerSec, this.burst, now);
      this.buckets.set(userId, bucket);
    }
    if ((this.sweeps += 1) >= 10_000) this.sweep(now);
    return bucket.take(now) ? 0 : Math.max(1, bucket.waitMs(now));
  }

  get size(): number {
    return this.buckets.size;
  }

  sweep(now = Date.now()): void {
    this.sweeps = 0;
    for (const [user, bucket] of this.buckets) if (bucket.full(now)) this.buckets.delete(user);
  }
}
