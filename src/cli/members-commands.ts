/**
 * The member commands: `conclave members` (each member's status, checks and services),
 * `promote` (a planned master switchover) and `drain`/`undrain` (maintenance mode).
 */
import type { Command } from "commander";
import { table } from "./output.ts";
import { type ClientFlags, type CliContext, clientOptions } from "./program.ts";

/** Add `members`, `promote`, `drain` and `undrain` to the program. */
export function addMembersCommands(program: Command, cli: CliContext): void {
  clientOptions(
    program.command("members").description("each member: status, address, checks, services"),
  ).action((flags: ClientFlags) =>
    cli.client(flags, async (api) => {
      const { members } = await api.members();
      if (flags.json) {
        return members.map((m) => ({
          name: m.name,
          address: m.address,
          status: m.status,
          checks: m.checks,
          services: m.services,
        }));
      }
      return table([
        ["NAME", "ADDRESS", "STATUS", "CHECKS", "SERVICES"],
        ...members.map((m) => [
          m.name,
          m.address,
          m.status,
          Object.entries(m.checks)
            .map(([c, st]) => `${c}:${st}`)
            .join(",") || "-",
          Object.entries(m.services)
            .map(([n, v]) => `${n}:${v.state}${v.master ? `(epoch ${v.epoch})` : ""}`)
            .join(",") || "-",
        ]),
      ]);
    }),
  );

  clientOptions(
    program
      .command("promote")
      .description("planned switchover: demote the old master, then promote MEMBER")
      .argument("<service>")
      .argument("<member>"),
  ).action((service: string, member: string, flags: ClientFlags) =>
    cli.client(flags, async (api) => {
      const r = await api.promote(service, member);
      if (flags.json) return { service, master: member, epoch: r.epoch, previous: r.previous || null };
      return r.previous
        ? `${member} is master of ${service} (epoch ${r.epoch}; was ${r.previous})`
        : `${member} is master of ${service} (epoch ${r.epoch})`;
    }),
  );

  for (const [verb, what] of [
    ["drain", "maintenance mode on: move the member's master roles away, mark it drained"],
    ["undrain", "maintenance mode off"],
  ] as const) {
    clientOptions(program.command(verb).description(what).argument("<member>")).action(
      (member: string, flags: ClientFlags) =>
        cli.client(flags, async (api) => {
          const r = verb === "drain" ? await api.drain(member) : await api.undrain(member);
          if (flags.json) return { member, status: r.status, moved: r.moved };
          return `${member} is ${r.status}${r.moved.length > 0 ? `; master roles moved: ${r.moved.join(", ")}` : ""}`;
        }),
    );
  }
}
