/**
 * zod, as src/ imports it (config validation). In the build, this module's output is replaced
 * by a minified bundle of zod (`npm run build` runs esbuild on this file after tsc): zod ships
 * about 850 KB of readable ESM in 95 modules, and a running agent keeps the source text of
 * every module it loaded in memory, so the bundle saves about 2 MB of RSS in every agent,
 * where a member's memory is what matters (`npm run bench:member-rss`). Under tsx (tests,
 * `npm run sim`) it is zod itself.
 */
export { z } from "zod";
