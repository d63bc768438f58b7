// Module resolution hooks that let a plain `node` child process run the workspace's TypeScript
// sources the way vitest does (vitest.config.ts aliases @strongbox/* to packages/*/src/index.ts):
// `@strongbox/<dir>` → packages/<dir>/src/index.ts, and a relative `./x.js` that does not exist →
// `./x.ts`. Node 24 strips the types itself.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const packages = new URL("../../../../packages/", import.meta.url);

export async function resolve(specifier, context, next) {
  const m = /^@strongbox\/([a-z0-9-]+)$/.exec(specifier);
  if (m) return next(new URL(`${m[1]}/src/index.ts`, packages).href, context);
  if ((specifier.startsWith("./") || specifier.startsWith("../")) && specifier.endsWith(".js") && context.parentURL) {
    const url = new URL(specifier, context.parentURL);
    if (!existsSync(fileURLToPath(url))) {
      const ts = new URL(specifier.replace(/\.js$/, ".ts"), context.parentURL);
      if (existsSync(fileURLToPath(ts))) return next(ts.href, context);
    }
  }
  return next(specifier, context);
}
