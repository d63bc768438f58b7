/**
 * @strongbox/testkit — the conformance suites every adapter runs, first-party or third-party:
 *
 *   storageSuite("s3 on s3rver", async () => ({ storage: s3({...}), cleanup }));
 *   transformSuite("gzip", () => ({ encoder: gzip() , externalDecode: ["gunzip", "-c"] }));
 *   sourceSuite("postgres", async () => ({ source, seed, snapshot, mutate, cleanup }));
 *
 * Each call registers vitest `describe`/`it` blocks. Behaviour an adapter does not declare in its
 * capabilities is skipped with the reason printed.
 */

// Test fixtures for adapter authors: generated data streams and an HTTP fault-injecting proxy.
export * from "./fixtures/data.js";
export * from "./fixtures/fault-proxy.js";
export * from "./fixtures/ports.js";
export { type LockFixture, lockSuite } from "./lock-suite.js";
export { sourceSuite } from "./source-suite.js";
export { storageSuite } from "./storage-suite.js";
export { transformSuite } from "./transform-suite.js";
export * from "./types.js";
