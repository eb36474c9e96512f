/**
 * Whether a member runs a cluster-wide check definition (one that arrived through
 * `conclave checks apply`): the member's own stance on remote code, `allow_remote_commands`
 * in its config (docs/checks.md#remote-commands; Consul's `enable_script_checks`).
 *
 * Invariant: without `allow_remote_commands: true`, no definition from the leader makes this
 * member start a process: a `command` check runs its `run`, and an `action` runs on failure,
 * so both are refused; every other type only reads (a file, `/proc`, a URL, a port). The
 * member's own checks (`checks:` of its config) are never judged here: that file is the
 * operator's, on this host.
 */
import type { CheckConfig } from "../../config/node-config.ts";

/** The config key that allows remote commands, as the reasons name it. */
export const ALLOW_REMOTE_COMMANDS_KEY = "allow_remote_commands";

/** What a member does with one cluster-wide definition. */
export type RemoteCheckVerdict =
  { readonly kind: "run" } | { readonly kind: "refused"; readonly reason: string };

const RUN: RemoteCheckVerdict = { kind: "run" };

/** Why the member refuses it, after what the definition would run. */
const NOT_ALLOWED = `this member's config does not set ${ALLOW_REMOTE_COMMANDS_KEY}: true`;

/**
 * The verdict on cluster-wide definition `check` for a member whose config says
 * `allowRemoteCommands`. Pure: the same definition and setting give the same verdict and
 * reason, so a member reports the same refusal after every restart.
 */
export function judgeRemoteCheck(check: CheckConfig, allowRemoteCommands: boolean): RemoteCheckVerdict {
  if (allowRemoteCommands) return RUN;
  if (check.type === "command") {
    return { kind: "refused", reason: `a command check from checks apply; ${NOT_ALLOWED}` };
  }
  if (check.action !== null) {
    return { kind: "refused", reason: `its action is a command from checks apply; ${NOT_ALLOWED}` };
  }
  return RUN;
}
