/**
 * Durations as written in `conclave.yaml` (docs/config.md: "durations accept `ms`, `s`, `m`"):
 * a decimal number followed by a unit, e.g. `250ms`, `1.5s`, `2m`. Parts may be combined,
 * Go style, as in `1m30s`. A bare number has no unit and is refused, so `250` cannot be
 * read as 250 seconds by one operator and 250 milliseconds by another.
 */

/** Milliseconds per accepted unit. */
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000 };

/**
 * Longest duration accepted, in milliseconds: the largest delay Node's timers can wait
 * (2^31 - 1 ms, about 24.8 days); a longer one would fire at once.
 */
export const MAX_DURATION_MS = 2_147_483_647;

/** A duration that cannot be parsed; the message says why and how to write it. */
export class DurationError extends Error {
  override readonly name = "DurationError";
}

const PART = /(\d+(?:\.\d+)?|\.\d+)\s*([A-Za-zµ]*)\s*/y;

/**
 * Parse a duration such as `250ms`, `1.5s`, `2m` or `1m30s` into whole milliseconds.
 * Zero (`0s`) is accepted; whether zero makes sense is the caller's business.
 * @throws DurationError for a bare number (it says to add a unit), an unknown unit, a
 *   negative value, a fraction of a millisecond, more than {@link MAX_DURATION_MS}, or text
 *   that is not a duration at all.
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === "") throw new DurationError("empty duration; write one such as 250ms, 1.5s or 2m");
  if (s.startsWith("-")) throw new DurationError(`duration ${JSON.stringify(text)} is negative`);
  if (/^(\d+(\.\d*)?|\.\d+)$/.test(s)) {
    throw new DurationError(`bare number ${s} is not a duration; add a unit: ${s}ms, ${s}s or ${s}m`);
  }
  let total = 0;
  let at = 0;
  while (at < s.length) {
    PART.lastIndex = at;
    const m = PART.exec(s);
    if (!m) {
      throw new DurationError(
        `${JSON.stringify(text)} is not a duration; write a number with a unit, e.g. 250ms, 1.5s or 2m`,
      );
    }
    const unit = m[2] ?? "";
    const perUnit = UNIT_MS[unit];
    if (perUnit === undefined) {
      throw new DurationError(
        unit === ""
          ? `${JSON.stringify(text)} has a number without a unit; use ms, s or m`
          : `unknown unit ${JSON.stringify(unit)} in ${JSON.stringify(text)}; use ms, s or m`,
      );
    }
    total += Number(m[1]) * perUnit;
    at = PART.lastIndex;
  }
  const ms = Math.round(total);
  if (Math.abs(total - ms) > 1e-6) {
    throw new DurationError(`${JSON.stringify(text)} is not a whole number of milliseconds`);
  }
  if (ms > MAX_DURATION_MS) {
    throw new DurationError(
      `${JSON.stringify(text)} is too long; the limit is ${MAX_DURATION_MS}ms (24.8 days)`,
    );
  }
  return ms;
}

/**
 * Write milliseconds back the way the config does: whole minutes as `2m`, whole seconds as
 * `3s`, anything else in milliseconds (`1500ms`, `250ms`). The output always parses back to
 * the same number with {@link parseDuration}.
 */
export function formatDuration(ms: number): string {
  if (ms !== 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms !== 0 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
