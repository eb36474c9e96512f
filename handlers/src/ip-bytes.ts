/**
 * IP literals as the bytes of A and AAAA records, and back. Written here rather than taken
 * from `node:net` because Node can tell whether text is an IP literal but cannot give its
 * bytes, and two spellings of one IPv6 address (`::1`, `0:0::1`) must compare equal.
 */
import { isIPv4, isIPv6 } from "node:net";

/** An IP literal and its record type; `text` is canonical (RFC 5952 for IPv6). */
export interface IpAddress {
  readonly type: "A" | "AAAA";
  readonly text: string;
  readonly bytes: Uint8Array;
}

/** The bytes of a dotted-quad IPv4 literal, or null when `text` is not one. */
function ipv4Bytes(text: string): Uint8Array | null {
  if (!isIPv4(text)) return null;
  return Uint8Array.from(text.split(".").map(Number));
}

/** The 16 bytes of an IPv6 literal (`::` and a trailing dotted quad allowed), or null. */
function ipv6Bytes(text: string): Uint8Array | null {
  if (!isIPv6(text) || text.includes("%")) return null;
  // A trailing dotted quad ("::ffff:1.2.3.4") is rewritten as its two hex groups.
  let s = text;
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (quad) {
    const v4 = ipv4Bytes(quad[1]!);
    if (!v4) return null;
    const hi = ((v4[0]! << 8) | v4[1]!).toString(16);
    const lo = ((v4[2]! << 8) | v4[3]!).toString(16);
    s = `${s.slice(0, -quad[1]!.length)}${hi}:${lo}`;
  }
  const parse = (part: string): number[] => (part === "" ? [] : part.split(":").map((g) => parseInt(g, 16)));
  const gap = s.indexOf("::");
  let groups: number[];
  if (gap >= 0) {
    const head = parse(s.slice(0, gap));
    const rest = parse(s.slice(gap + 2));
    const fill = 8 - head.length - rest.length;
    if (fill < 0) return null;
    groups = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else {
    groups = parse(s);
  }
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) return null;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** RFC 5952 text of 16 IPv6 bytes: lowercase, no leading zeros, the longest zero run as `::`. */
export function formatIpv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let best = -1;
  let bestLen = 1; // a single zero group is not shortened (RFC 5952 4.2.2)
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

/** Text of A (4 bytes) or AAAA (16 bytes) record data. */
export function formatIp(bytes: Uint8Array): string {
  return bytes.length === 4 ? Array.from(bytes).join(".") : formatIpv6(bytes);
}

/** The address of an IP literal (IPv4, or IPv6 without a zone id), or null for anything else. */
export function parseIp(text: string): IpAddress | null {
  const v4 = ipv4Bytes(text);
  if (v4) return { type: "A", text: formatIp(v4), bytes: v4 };
  const v6 = ipv6Bytes(text);
  if (v6) return { type: "AAAA", text: formatIpv6(v6), bytes: v6 };
  return null;
}
