/**
 * The one test for "a YAML mapping" used while reading config and check files: a parsed
 * document's mappings are plain objects, its lists are arrays, and null is a missing value.
 */

/** Whether `v` is a mapping (a non-null object that is not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
