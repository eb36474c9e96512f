/**
 * A handler run told in words, for the handlers that write to people or to logs (mail, log):
 * a one-line headline and a plain-text report of the event and the committed member view.
 * Names and details come from configs and members, so control characters are replaced: a
 * headline can never carry a line break into a mail header or a log line.
 */
import type { HandlerInput, MemberView } from "./handler-input.ts";

/** `text` with every control character (line breaks included) replaced by a space. */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, " ");
}

/** `member-down of web2 (service db)`: what happened, in a few words. */
export function headline(input: HandlerInput): string {
  const e = input.event;
  return oneLine(
    `${e.type}${e.member ? ` of ${e.member}` : ""}${e.service ? ` (service ${e.service})` : ""}`,
  );
}

/** Members counted by status, e.g. `2 up, 1 down, 0 drained`. */
export function memberCounts(members: readonly MemberView[]): string {
  const n = (s: string) => members.filter((m) => m.status === s).length;
  return `${n("up")} up, ${n("down")} down, ${n("drained")} drained`;
}

/** The plain-text report: the event, then one line per member. */
export function report(input: HandlerInput): string {
  const { env, event, members } = input;
  const member = members.find((m) => m.name === event.member);
  const details = JSON.stringify(event.details);
  const lines = [
    `Event:    ${event.type} (id ${event.id}, term ${event.term})`,
    `Member:   ${event.member ? `${event.member}${member ? ` (${member.address}, now ${member.status})` : ""}` : "-"}`,
    `Service:  ${event.service ?? "-"}`,
    `Details:  ${details === "{}" ? "-" : details}`,
    `Cluster:  ${env.cluster || "-"}   handler ${env.handler || "-"}, attempt ${env.attempt}, fence ${env.fence}`,
    "",
    `Members (${members.length}): ${memberCounts(members)}`,
  ];
  const width = Math.max(4, ...members.map((m) => m.name.length));
  const addrWidth = Math.max(7, ...members.map((m) => m.address.length));
  for (const m of members) {
    const checks = Object.entries(m.checks)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}: ${v}`);
    const masters = Object.entries(m.services)
      .filter(([, s]) => s.master)
      .map(([k, s]) => `master of ${k} (epoch ${s.epoch ?? 0})`);
    lines.push(
      `  ${m.name.padEnd(width)}  ${m.address.padEnd(addrWidth)}  ${m.status.padEnd(7)}  ${[...checks, ...masters].join(", ")}`.trimEnd(),
    );
  }
  return `${lines.map(oneLine).join("\n")}\n`;
}
