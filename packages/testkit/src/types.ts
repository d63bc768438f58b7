import type { Source, Storage, TargetOverrides, Transform } from "@strongbox/core";

export interface StorageFixture {
  storage: Storage;
  /**
   * Reads an object through the backend's NATIVE client (fs, S3Client, BlobServiceClient…), so
   * the suite checks what really landed, not only what the adapter says. `undefined` = missing.
   */
  readNative?(key: string): Promise<Buffer | undefined>;
  cleanup?(): Promise<void>;
}

export interface StorageSuiteOptions {
  /** Size of the large streamed object. @default 200 MiB */
  largeObjectBytes?: number;
  /** Keys written for the pagination test. @default 1100 */
  manyKeys?: number;
  /** Per-test timeout in ms. @default 300000 */
  timeoutMs?: number;
}

export interface TransformFixture {
  encoder: Transform;
  /** Transform instance used to decode (e.g. encrypt({ identities })). @default encoder */
  decoder?: Transform;
  /** A standard tool that must decode the output, reading stdin and writing stdout: ["gunzip", "-c"]. */
  externalDecode?: string[];
}

export interface TransformSuiteOptions {
  /** Size of the large streamed payload. @default 64 MiB */
  largeBytes?: number;
  timeoutMs?: number;
}

export interface SourceFixture {
  source: Source;
  /** Puts known data into the store (called before each round-trip test). */
  seed(): Promise<void>;
  /** The store's content read through the native client, comparable with `toEqual`. */
  snapshot(): Promise<unknown>;
  /** Changes the data so that a restore has something to undo. */
  mutate(): Promise<void>;
  /** Another restore target (another database, db, directory) and how to read it natively. */
  altTarget?: { target: TargetOverrides; snapshot(): Promise<unknown>; cleanup?(): Promise<void> };
  cleanup?(): Promise<void>;
}

export interface SourceSuiteOptions {
  timeoutMs?: number;
}
