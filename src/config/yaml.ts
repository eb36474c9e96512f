/**
 * yaml, as src/ imports it (reading conclave.yaml and check files). Like src/zod.ts, the build
 * replaces this module's output with a minified bundle of the package (72 CommonJS modules,
 * about 1.4 MB less RSS in every agent); under tsx it is yaml itself.
 */
export { parseDocument } from "yaml";
