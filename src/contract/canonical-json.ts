/**
 * Canonical JSON: one spelling for one JSON value, so that a hash over it is the same on every
 * elector and in every later audit, whatever order the keys were inserted in.
 *
 * Definition (the rules of RFC 8785, JCS, for the values Conclave stores):
 * - object keys sorted recursively by UTF-16 code units (JavaScript's default string sort);
 * - no insignificant whitespace;
 * - strings, numbers, booleans and null spelled as `JSON.stringify` spells them (ECMAScript's
 *   number-to-string, which is fully specified, and well-formed escapes for lone surrogates);
 * - array order kept as is.
 *
 * Only JSON values are accepted: `undefined`, functions, symbols, bigints, NaN and ±Infinity,
 * cycles and non-plain objects (Date, Map, class instances) throw a TypeError instead of being
 * silently dropped or coerced as `JSON.stringify` would, since a lossy spelling would hash data
 * that was never stored.
 */

/** A JSON value as parsed by `JSON.parse`. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | JsonObject;

/** A JSON object. */
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

/**
 * The canonical JSON text of `value` (see the module comment for the exact rules).
 * Recursion is not depth-limited here: callers that take untrusted input bound the depth first.
 * @throws TypeError naming the path (e.g. `$.a[2].b`) of a value JSON cannot represent
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, "$", new Set(), out);
  return out.join("");
}

function write(v: unknown, path: string, ancestors: Set<object>, out: string[]): void {
  switch (typeof v) {
    case "string":
      out.push(JSON.stringify(v));
      return;
    case "boolean":
      out.push(v ? "true" : "false");
      return;
    case "number":
      if (!Number.isFinite(v))
        throw new TypeError(`canonicalJson: ${path} is ${v}, which JSON cannot represent`);
      out.push(JSON.stringify(v));
      return;
    case "object": {
      if (v === null) {
        out.push("null");
        return;
      }
      if (ancestors.has(v)) throw new TypeError(`canonicalJson: ${path} refers back to an enclosing value`);
      ancestors.add(v);
      if (Array.isArray(v)) {
        out.push("[");
        for (let i = 0; i < v.length; i++) {
          if (i > 0) out.push(",");
          write(v[i], `${path}[${i}]`, ancestors, out);
        }
        out.push("]");
      } else {
        const proto: unknown = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) {
          throw new TypeError(`canonicalJson: ${path} is not a plain object`);
        }
        const o = v as Record<string, unknown>;
        const keys = Object.keys(o).sort();
        out.push("{");
        keys.forEach((k, i) => {
          if (i > 0) out.push(",");
          out.push(JSON.stringify(k), ":");
          write(o[k], `${path}.${k}`, ancestors, out);
        });
        out.push("}");
      }
      ancestors.delete(v);
      return;
    }
    default:
      throw new TypeError(`canonicalJson: ${path} is ${typeof v}, which JSON cannot represent`);
  }
}
