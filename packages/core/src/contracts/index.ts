export * from "./common.js";
export * from "./lock.js";
export * from "./source.js";
export * from "./storage.js";
export * from "./transform.js";
