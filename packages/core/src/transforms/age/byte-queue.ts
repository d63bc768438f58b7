/**
 * A FIFO of byte slices. Taking bytes returns views into the buffers that were pushed, so a chunk
 * that spans several input writes is fed to the cipher piece by piece instead of being copied
 * into one buffer first.
 */
export class ByteQueue {
  private readonly items: Buffer[] = [];
  private head = 0;
  length = 0;

  push(buf: Buffer): void {
    if (buf.length === 0) return;
    this.items.push(buf);
    this.length += buf.length;
  }

  /** Removes and returns the first `n` bytes (n ≤ length) as views. */
  take(n: number): Buffer[] {
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const first = this.items[0]!;
      const avail = first.length - this.head;
      if (avail <= left) {
        out.push(this.head === 0 ? first : first.subarray(this.head));
        this.items.shift();
        this.head = 0;
        left -= avail;
      } else {
        out.push(first.subarray(this.head, this.head + left));
        this.head += left;
        left = 0;
      }
    }
    this.length -= n;
    return out;
  }

  takeAll(): Buffer[] {
    return this.take(this.length);
  }
}

/** Total length of a list of slices. */
export function totalLength(slices: readonly Buffer[]): number {
  let n = 0;
  for (const s of slices) n += s.length;
  return n;
}
