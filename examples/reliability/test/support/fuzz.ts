import { Readable } from "node:stream";

/** mulberry32: a tiny seeded PRNG, so every fuzz run feeds the same inputs. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBuffer(next: () => number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (next() * 256) | 0;
  return b;
}

/**
 * One fuzz input: pure random bytes (a quarter of the time) or a mutation of a valid sample —
 * flipped bits, a truncation, inserted or overwritten random runs, a duplicated slice — which
 * gets much deeper into a parser than noise does.
 */
export function fuzzInput(next: () => number, sample: Buffer): Buffer {
  const pick = (n: number) => Math.floor(next() * n);
  if (next() < 0.25) return randomBuffer(next, pick(4096));
  let b = Buffer.from(sample);
  const ops = 1 + pick(4);
  for (let i = 0; i < ops && b.length > 0; i++) {
    switch (pick(5)) {
      case 0:
        for (let j = 0, n = 1 + pick(8); j < n; j++) b[pick(b.length)]! ^= 1 << pick(8);
        break;
      case 1:
        b = b.subarray(0, pick(b.length));
        break;
      case 2: {
        const at = pick(b.length);
        b = Buffer.concat([b.subarray(0, at), randomBuffer(next, 1 + pick(64)), b.subarray(at)]);
        break;
      }
      case 3: {
        const at = pick(b.length);
        randomBuffer(next, Math.min(1 + pick(32), b.length - at)).copy(b, at);
        break;
      }
      default: {
        const from = pick(b.length);
        const slice = b.subarray(from, from + pick(256));
        const at = pick(b.length);
        b = Buffer.concat([b.subarray(0, at), slice, b.subarray(at)]);
      }
    }
  }
  return b;
}

/** The input as a stream cut into random-sized chunks (parsers must not care where chunks end). */
export function chunked(next: () => number, input: Buffer): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < input.length; ) {
    const n = 1 + Math.floor(next() * 1024);
    parts.push(input.subarray(i, i + n));
    i += n;
  }
  return Readable.from(parts);
}
