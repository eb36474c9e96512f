/**
 * Output capture of the process-group runner: {@link OutputTail}, a fixed-size ring that keeps
 * the last bytes of a process's combined stdout and stderr however much it prints, and
 * {@link outputText}, which turns those bytes into text that is safe in a JSON event and on a
 * terminal ({@link RunOutput}).
 *
 * Invariant: memory held per run is {@link OUTPUT_TAIL_BYTES} (plus the chunk in hand), never
 * proportional to what the process printed.
 */
import { RunOptionsError } from "./run-options.ts";

/** How much of a process's combined stdout and stderr is kept: the last 4 KiB. */
export const OUTPUT_TAIL_BYTES = 4096;

/** What a process printed, as kept for its outcome. */
export interface RunOutput {
  /**
   * The last {@link OUTPUT_TAIL_BYTES} bytes of combined stdout and stderr (in arrival order)
   * as text safe for a JSON event and a terminal: UTF-8 with U+FFFD for invalid bytes, CRLF as
   * LF, and U+FFFD for every other control character except `\n` and `\t`.
   */
  readonly text: string;
  /** True when more than the kept bytes was printed. */
  readonly truncated: boolean;
  /** How many bytes were printed in all. */
  readonly totalBytes: number;
}

/**
 * A fixed-size tail of a byte stream: keeps the last `capacity` bytes in one preallocated
 * buffer, so memory stays at `capacity` however much is written, and counts every byte.
 */
export class OutputTail {
  private readonly ring: Buffer;
  /** Index in `ring` of the oldest byte kept. */
  private start = 0;
  /** Bytes kept, at most `capacity`. */
  private length = 0;
  private total = 0;

  /**
   * @param capacity bytes to keep, at least 1.
   * @throws RunOptionsError for a capacity that is not a positive integer.
   */
  constructor(readonly capacity: number = OUTPUT_TAIL_BYTES) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RunOptionsError(`output tail capacity must be a positive integer, got ${capacity}`);
    }
    this.ring = Buffer.alloc(capacity);
  }

  /** Add bytes at the end, forgetting the oldest beyond the capacity. */
  write(chunk: Uint8Array): void {
    const cap = this.capacity;
    this.total += chunk.length;
    if (chunk.length >= cap) {
      this.ring.set(chunk.subarray(chunk.length - cap));
      this.start = 0;
      this.length = cap;
      return;
    }
    const end = (this.start + this.length) % cap;
    const first = Math.min(chunk.length, cap - end);
    this.ring.set(chunk.subarray(0, first), end);
    this.ring.set(chunk.subarray(first), 0);
    const held = this.length + chunk.length;
    if (held > cap) {
      this.start = (this.start + held - cap) % cap;
      this.length = cap;
    } else {
      this.length = held;
    }
  }

  /** Every byte written so far. */
  get totalBytes(): number {
    return this.total;
  }

  /** True when bytes have been forgotten. */
  get truncated(): boolean {
    return this.total > this.length;
  }

  /** A copy of the bytes kept, oldest first. */
  bytes(): Buffer {
    const out = Buffer.alloc(this.length);
    const first = Math.min(this.length, this.capacity - this.start);
    this.ring.copy(out, 0, this.start, this.start + first);
    this.ring.copy(out, first, 0, this.length - first);
    return out;
  }

  /** The kept bytes as a {@link RunOutput}. */
  toOutput(): RunOutput {
    return {
      text: outputText(this.bytes(), this.truncated),
      truncated: this.truncated,
      totalBytes: this.total,
    };
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * Decode a process's output for an event: see {@link RunOutput.text}.
 * @param bytes the bytes kept.
 * @param truncated whether they are the tail of something longer: then up to 3 leading UTF-8
 *   continuation bytes, the rest of a character whose start was dropped, are skipped rather
 *   than shown as U+FFFD.
 */
export function outputText(bytes: Uint8Array, truncated: boolean): string {
  let from = 0;
  if (truncated) {
    while (from < 3 && from < bytes.length && ((bytes[from] ?? 0) & 0xc0) === 0x80) from++;
  }
  return sanitizeText(utf8.decode(bytes.subarray(from)));
}

/** Whether code unit `c` is a control character to replace (C0 but \t and \n, DEL, C1). */
function isUnsafeControl(c: number): boolean {
  return (c < 0x20 && c !== 0x09 && c !== 0x0a) || (c >= 0x7f && c <= 0x9f);
}

/** CRLF to LF, then every control character other than \n and \t to U+FFFD. */
function sanitizeText(text: string): string {
  let clean = true;
  for (let i = 0; i < text.length; i++) {
    if (isUnsafeControl(text.charCodeAt(i))) {
      clean = false;
      break;
    }
  }
  if (clean) return text;
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0d && text.charCodeAt(i + 1) === 0x0a) continue;
    out += isUnsafeControl(c) ? "\uFFFD" : text[i];
  }
  return out;
}
