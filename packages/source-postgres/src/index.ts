/**
 * @strongbox/source-postgres — PostgreSQL backups with `pg_dump --format=custom`, streamed, and
 * atomic restores with `pg_restore --single-transaction`.
 */

export { parseConnectionString } from "./connection.js";
export { type PostgresLockOptions, postgresLock } from "./lock.js";
export type { PostgresOptions, PostgresSslMode, PostgresTarget } from "./options.js";
export { postgres } from "./postgres.js";
