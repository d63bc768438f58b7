#!/usr/bin/env node
/**
 * The EXTERNAL producer of the pipeline benchmark: writes `BYTES` bytes of pg_dump-like text
 * (COPY rows of a users/orders/events schema) to stdout, like `pg_dump` would.
 *
 * Realistic repetition: every row is different (ids, amounts, timestamps advance), but names,
 * e-mail domains, statuses, cities and JSON keys come from small vocabularies, so gzip -6 gets
 * a ratio close to a real dump (about 3.5× at gzip -6). Hex columns (password hashes, uuids,
 * session ids) give it the entropy real dumps have.
 *
 * Usage: node dump-producer.mjs <bytes> [seed]
 */
const total = Number(process.argv[2] ?? 256 * 1024 * 1024);
let seed = Number(process.argv[3] ?? 42) >>> 0;

function rand() {
  // xorshift32: deterministic across runs, so every tool compresses identical bytes.
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed;
}

const first =
  "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Ana Wei Yuki Olga Pierre Fatima Lars Ingrid".split(
    " ",
  );
const last =
  "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Dubois Nguyen Kowalski Rossi Schmidt".split(
    " ",
  );
const domains = "example.com mail.example.org corp.example.net shop.example.io".split(" ");
const cities = "Paris Berlin London Madrid Rome Lisbon Warsaw Vienna Prague Oslo Tokyo Austin Denver Toronto".split(
  " ",
);
const statuses = "pending paid shipped delivered refunded cancelled".split(" ");
const events = "login logout view_item add_to_cart checkout search update_profile password_reset".split(" ");
const agents = [
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
];
const hex = (n) => {
  let s = "";
  for (let i = 0; i < n; i += 8) s += rand().toString(16).padStart(8, "0");
  return s.slice(0, n);
};
const pick = (list) => list[rand() % list.length];
const pad = (n) => (n < 10 ? `0${n}` : String(n));

let id = 1;
let clock = Date.UTC(2024, 0, 1) / 1000;
function stamp() {
  clock += rand() % 7;
  const d = new Date(clock * 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}+00`;
}

function row(table) {
  const n = id++;
  if (table === 0) {
    const f = pick(first);
    const l = pick(last);
    return `${n}\t${f}\t${l}\t${f.toLowerCase()}.${l.toLowerCase()}${rand() % 1000}@${pick(domains)}\t${pick(cities)}\t${stamp()}\t\\\\x${hex(40)}\tt\n`;
  }
  if (table === 1) {
    return `${n}\t${1 + (rand() % 500000)}\t${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}\t${pick(statuses)}\t${(rand() % 100000) / 100}\tEUR\t${stamp()}\t{"items": ${1 + (rand() % 9)}, "coupon": ${rand() % 5 === 0 ? '"SPRING24"' : "null"}, "gift": false}\n`;
  }
  return `${n}\t${1 + (rand() % 500000)}\t${pick(events)}\t${stamp()}\t${hex(16)}\t10.${rand() % 256}.${rand() % 256}.${rand() % 256}\t${pick(agents)}\n`;
}

const headers = [
  "COPY public.users (id, first_name, last_name, email, city, created_at, password_hash, active) FROM stdin;\n",
  "COPY public.orders (id, user_id, order_uuid, status, amount, currency, created_at, details) FROM stdin;\n",
  "COPY public.events (id, user_id, kind, at, session, ip, user_agent) FROM stdin;\n",
];

let written = 0;
let table = 0;
let rowsInTable = 0;
let pendingHeader = headers[0];
let carry = "";

/** Fills a buffer with rows; a row that does not fit continues in the next buffer. */
function rows(size) {
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  while (at < size) {
    let text;
    if (carry) {
      text = carry;
      carry = "";
    } else if (pendingHeader) {
      text = pendingHeader;
      pendingHeader = undefined;
    } else if (rowsInTable > 100_000) {
      text = "\\.\n\n";
      table = (table + 1) % 3;
      rowsInTable = 0;
      pendingHeader = headers[table];
    } else {
      text = row(table);
      rowsInTable++;
    }
    const n = buf.write(text, at, "latin1");
    if (n < text.length) carry = text.slice(n);
    at += n;
  }
  return buf;
}

// Building rows in JS costs about as much CPU as gzip -6 itself, which would make the benchmark
// measure the producer. So a 32 MiB pool is generated once and then streamed over and over: it
// is far larger than any compressor's window here (gzip 32 KiB, zstd -3 a few MiB), so they see
// no repetition the pool's own rows do not have, and streaming it costs next to nothing.
const POOL = 32 << 20;
const pool = rows(Math.min(POOL, Math.max(total, 1)));
const BLOCK = 1 << 20;

function pump() {
  while (written < total) {
    const from = written % pool.length;
    const size = Math.min(BLOCK, total - written, pool.length - from);
    written += size;
    if (!process.stdout.write(pool.subarray(from, from + size))) {
      process.stdout.once("drain", pump);
      return;
    }
  }
}
process.stdout.on("error", (err) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});
pump();
