/**
 * The elector side of the member report stream (proto/member.proto). Only the leader keeps
 * member streams: a follower answers a registration with a redirect to the leader (or ends
 * the stream when it knows no leader, so the member tries the next elector). On the leader,
 * registrations and heartbeats feed the {@link MemberTracker}; when leadership moves, every
 * stream is ended so members reconnect and are redirected to the new leader.
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { NodeId } from "../../raft/index.ts";
import { formatIdentity, mayActAs } from "../auth/auth-role.ts";
import { callIdentity } from "../auth/call-identity.ts";
import { RefusalLog } from "../auth/refusal-log.ts";
import { memberServiceDefinition, type ServiceHost } from "../rpc/service-definitions.ts";
import type { ClusterChecks } from "../coordinator/cluster-checks-state.ts";
import { type CheckState, checkStateProblem, reportedCheckNameProblem } from "../contract/check-state.ts";
import { refusalsFromWire } from "../contract/check-refusals.ts";
import { canonicalJson } from "../contract/canonical-json.ts";
import {
  CHECK_DETAIL_MAX_BYTES,
  CHECKS_PER_MEMBER_MAX,
  EVENT_DETAILS_MAX_BYTES,
  formatBytes,
  MEMBER_ADDRESS_MAX_BYTES,
  SERVICES_PER_MEMBER_MAX,
} from "../contract/limits.ts";
import { nameProblem, quoteName } from "../contract/names.ts";
import type { MasterKeeper } from "./leader/master-keeper.ts";
import type { MemberTracker } from "./leader/member-tracker.ts";
import type { RefusalRecorder } from "./leader/refusal-recorder.ts";

/** What the member service needs to know about the local elector. */
export interface LeaderInfo {
  readonly id: NodeId;
  leader(): NodeId | null;
  addressOf(id: NodeId): string | undefined;
  onLeaderChange(listener: (leader: NodeId | null, term: number) => void): () => void;
}

/** A service's role on the member, as it reports it (proto `ServiceRole`). */
interface Role {
  service: string;
  state: string;
  epoch: number;
}

/** One message of a member's stream (proto `MemberReport`): one field of its `body` is set. */
interface Report {
  register?: {
    name: string;
    address: string;
    services: string[];
    checks: Record<string, string>;
    checksVersion?: number;
    roles?: Role[];
    /** proto `ChecksRefused`, read by the refusal recorder; null from older members. */
    refused?: unknown;
  };
  heartbeat?: { seq: number; checksVersion?: number; roles?: Role[] };
  leave?: object;
  check?: { name: string; state: string; detail: string };
  /** proto `ChecksRefused`: the member applied a new set of cluster-wide checks. */
  refused?: unknown;
}

/** What the member service tells the failure detector (a {@link MemberTracker}). */
export type MemberReportSink = Pick<MemberTracker, "registered" | "heard" | "checkReported" | "left">;

/** What the member service needs of the master keeper (a {@link MasterKeeper}). */
export type MasterGrants = Pick<
  MasterKeeper,
  "isActive" | "grantsFor" | "report" | "checksReported" | "checkReported"
>;

/** What the member service needs beyond the failure detector. */
export interface MemberServiceExtras {
  /** The leader's master bookkeeping (grants in acknowledgements, role reports). */
  readonly keeper: MasterGrants;
  /** The committed cluster-wide checks. */
  readonly clusterChecks: () => ClusterChecks;
  /** `timing.master_lease`, sent in every acknowledgement. */
  readonly leaseMs: number;
  /** The leader's recorder of the cluster-wide checks members refuse (none when absent). */
  readonly refusals?: Pick<RefusalRecorder, "reported" | "heard" | "left">;
}

/** A member's report stream, as grpc-js hands it to the handler. */
type Stream = grpc.ServerDuplexStream<Report, object>;

/** Why the edge refuses a report: the status the stream ends with and the message. */
export interface ReportRefusal {
  readonly code: grpc.status;
  readonly details: string;
}

const invalid = (details: string): ReportRefusal => ({ code: grpc.status.INVALID_ARGUMENT, details });
const exhausted = (details: string): ReportRefusal => ({ code: grpc.status.RESOURCE_EXHAUSTED, details });

/**
 * Why a registration is refused at the edge, or null: the same limits the state machine holds
 * a `member-joined` to (contract/limits.ts, coordinator/command-limits.ts), checked here so a
 * member past one is told why (INVALID_ARGUMENT for a name or an address, RESOURCE_EXHAUSTED
 * for a count) instead of being proposed and skipped. The check states are checked apart
 * ({@link registeredChecks}).
 */
export function registrationProblem(reg: {
  readonly name: unknown;
  readonly address?: unknown;
  readonly services?: unknown;
  readonly checks?: unknown;
}): ReportRefusal | null {
  const np = nameProblem("member", reg.name);
  if (np !== null) return invalid(`registration refused: ${np}`);
  const address = reg.address ?? "";
  if (typeof address !== "string") return invalid("registration refused: the address must be text");
  if (Buffer.byteLength(address) > MEMBER_ADDRESS_MAX_BYTES) {
    return invalid(
      `registration refused: the address is ${Buffer.byteLength(address)} bytes; the limit is ${MEMBER_ADDRESS_MAX_BYTES} bytes (MEMBER_ADDRESS_MAX_BYTES)`,
    );
  }
  const services = reg.services ?? [];
  if (!Array.isArray(services)) return invalid("registration refused: the services must be a list");
  if (services.length > SERVICES_PER_MEMBER_MAX) {
    return exhausted(
      `registration refused: ${services.length} services; a member may run at most ${SERVICES_PER_MEMBER_MAX} (SERVICES_PER_MEMBER_MAX)`,
    );
  }
  for (const sv of services as unknown[]) {
    const p = nameProblem("service", sv);
    if (p !== null) return invalid(`registration refused: ${p}`);
  }
  const checks = reg.checks;
  if (typeof checks === "object" && checks !== null && !Array.isArray(checks)) {
    const names = Object.keys(checks);
    if (names.length > CHECKS_PER_MEMBER_MAX) {
      return exhausted(
        `registration refused: ${names.length} checks; a member may have at most ${CHECKS_PER_MEMBER_MAX} (CHECKS_PER_MEMBER_MAX)`,
      );
    }
    for (const c of names) {
      const p = reportedCheckNameProblem(c);
      if (p !== null) return invalid(`registration refused: ${p}`);
    }
  }
  // Not reachable within the limits above today; kept so the details cap holds whatever they become.
  const size = Buffer.byteLength(canonicalJson({ address, services, checks: checks ?? {} }));
  if (size > EVENT_DETAILS_MAX_BYTES) {
    return exhausted(
      `registration refused: its member-joined details are ${size} bytes; the limit is ${formatBytes(EVENT_DETAILS_MAX_BYTES)} (EVENT_DETAILS_MAX_BYTES)`,
    );
  }
  return null;
}

/**
 * Why a `checks-refused` report could not be committed for its size, or null: the reasons of
 * many refused checks together can pass the details cap, and the recorder would otherwise
 * propose (and fail) it again at every heartbeat.
 */
export function refusalsSizeProblem(wire: unknown): string | null {
  const r = refusalsFromWire(wire);
  if (r.kind !== "ok") return null; // the recorder reports the shape itself
  const size = Buffer.byteLength(
    canonicalJson({ version: r.refusals.version, refused: { ...r.refusals.refused } }),
  );
  if (size <= EVENT_DETAILS_MAX_BYTES) return null;
  return `its checks-refused details would be ${size} bytes; the limit is ${formatBytes(EVENT_DETAILS_MAX_BYTES)} (EVENT_DETAILS_MAX_BYTES)`;
}

/**
 * A check detail as the leader keeps it: at most CHECK_DETAIL_MAX_BYTES of UTF-8, cut (not
 * refused: it is a probe's output, not the member's choice) on a character boundary.
 */
export function cutCheckDetail(detail: string): string {
  if (Buffer.byteLength(detail) <= CHECK_DETAIL_MAX_BYTES) return detail;
  const bytes = Buffer.from(detail).subarray(0, CHECK_DETAIL_MAX_BYTES);
  // A cut inside a multi-byte character decodes to U+FFFD at the end: drop it.
  return bytes.toString("utf8").replace(/\uFFFD+$/, "");
}

/**
 * The check states of a registration, or why they are refused: every value must be a known
 * state (contract/check-state.ts); a member never invents one, so anything else is a bug or a
 * version mismatch, refused rather than guessed at.
 */
function registeredChecks(v: unknown): Record<string, CheckState> | string {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v))
    return "the registration's checks must be a map of check states";
  const out: Record<string, CheckState> = {};
  for (const [check, state] of Object.entries(v)) {
    if (check === "") return "the registration names a check with an empty name";
    const problem = checkStateProblem(check, state);
    if (problem !== null) return `registration refused: ${problem}`;
    out[check] = state as CheckState;
  }
  return out;
}

/** Options of {@link registerMemberService}. */
export interface MemberServiceOptions {
  /** The local elector: who leads, and where. */
  readonly node: LeaderInfo;
  /** The leader's failure detector, fed with registrations, heartbeats, checks and goodbyes. */
  readonly tracker: MemberReportSink;
  readonly logger: Logger;
  /** Master grants and cluster-wide checks in acknowledgements (none when absent). */
  readonly extras?: MemberServiceExtras;
  /**
   * Why member `name` may not join now (the members cap, CoordinatorState.joinProblem), or
   * null; asked on the leader before a registration is taken. Absent: no cap is checked here
   * (the state machine still holds it).
   */
  readonly joinProblem?: (name: string) => string | null;
}

/**
 * Serve MemberReports on `server`. Returns a function that ends every member stream.
 * Invariant: a stream is registered with the tracker only on the leader; every stream ends
 * when the known leader changes, so no member keeps reporting to a node that stopped leading.
 */
export function registerMemberService(server: ServiceHost, options: MemberServiceOptions): () => void {
  const { node, tracker, logger, extras, joinProblem } = options;
  /** Which own-name refusals are logged (one per identity and claimed name per minute). */
  const identityRefusals = new RefusalLog();
  /** Which members-cap refusals are logged (one per member name per minute). */
  const capRefusals = new RefusalLog();
  const streams = new Set<Stream>();
  const endAll = () => {
    for (const s of streams) s.end();
    streams.clear();
  };
  node.onLeaderChange(() => endAll());

  const report = (call: Stream) => {
    let name: string | null = null;
    /** Registered on a follower that knows no leader: held open until a leader is known. */
    let held = false;
    /** The cluster-checks version last sent on this stream. */
    let checksSent = 0;
    /** Whether a cut check detail was logged on this stream. */
    let detailCutLogged = false;
    streams.add(call);
    /** An acknowledgement: grants built now (this moment fences promotions), checks if stale. */
    const ack = (seq: number, memberVersion: number) => {
      const current = extras?.clusterChecks();
      const sendChecks =
        current !== undefined && current.version > memberVersion && current.version > checksSent;
      if (sendChecks) checksSent = current.version;
      call.write({
        ack: {
          seq,
          leader: node.id,
          leaderAddress: seq === 0 ? (node.addressOf(node.id) ?? "") : "",
          // A leader not yet active (its leader-elected entry not applied) says nothing about
          // masters: lease 0 means "no word", not "you are master of nothing".
          masters: name !== null && extras?.keeper.isActive ? extras.keeper.grantsFor(name) : [],
          leaseMs: extras?.keeper.isActive ? extras.leaseMs : 0,
          ...(sendChecks
            ? { checks: { version: current.version, checksJson: JSON.stringify(current.checks) } }
            : {}),
        },
      });
    };
    /** Hand a member's refusals to the recorder; a malformed report is logged and ignored (it is only shown). */
    const refusals = (member: string, wire: unknown) => {
      if (wire === undefined || wire === null) return;
      const tooLarge = refusalsSizeProblem(wire);
      if (tooLarge !== null) {
        logger.warn({ member, peer: call.getPeer() }, `refused checks report ignored: ${tooLarge}`);
        return;
      }
      const outcome = extras?.refusals?.reported(member, wire);
      if (outcome?.kind === "bad") {
        logger.warn({ member, peer: call.getPeer() }, `refused checks report ignored: ${outcome.problem}`);
      }
    };
    /** Ended by this side: whatever the member still sends is not read. */
    let finished = false;
    const finish = (err?: { code: grpc.status; details: string }) => {
      finished = true;
      streams.delete(call);
      // grpc-js ends a server stream with a status through an emitted 'error' (its own listener
      // records the status and ends the call); destroy() would drop the call without one, and
      // the member would never learn why (a refused name, a limit).
      if (err) call.emit("error", Object.assign(new Error(err.details), err));
      else call.end();
    };
    call.on("data", (r: Report) => {
      if (finished) return;
      if (held) return; // heartbeats while waiting for an election to finish
      if (name === null) {
        const reg = r.register;
        if (!reg || typeof reg.name !== "string" || reg.name === "") {
          logger.warn(
            { peer: call.getPeer() },
            "refused a member stream that did not start with a valid registration",
          );
          finish({
            code: grpc.status.INVALID_ARGUMENT,
            details: "the first message must register a member name",
          });
          return;
        }
        const refused = registrationProblem(reg);
        if (refused !== null) {
          logger.warn({ peer: call.getPeer() }, refused.details);
          finish(refused);
          return;
        }
        // A member speaks only for itself: its identity must be the name it registers (any
        // name for the legacy shared token; null: a bare test host that authenticates nothing).
        const identity = callIdentity(call);
        if (identity !== null && !mayActAs(identity, reg.name)) {
          const who = formatIdentity(identity);
          const details = `${who} may not register as member ${reg.name}`;
          // Once per (identity, claimed name) per minute, however often it retries.
          const suppressed = identityRefusals.admit(`${who} ${reg.name}`);
          if (suppressed !== null) logger.warn({ peer: call.getPeer(), identity: who, suppressed }, details);
          finish({ code: grpc.status.PERMISSION_DENIED, details });
          return;
        }
        const leader = node.leader();
        if (leader === null) {
          // An election is under way: keep the member here. When a leader is known, every
          // stream is ended (see onLeaderChange) and the member, reconnecting at once, is
          // redirected. Ending now would only make it back off and arrive late.
          held = true;
          return;
        }
        if (leader !== node.id) {
          call.write({ redirect: { leader, leaderAddress: node.addressOf(leader) ?? "" } });
          finish();
          return;
        }
        const full = joinProblem?.(reg.name) ?? null;
        if (full !== null) {
          // Refused before anything is proposed: the member retries with its backoff, and the
          // log says so once a minute per name, not once per heartbeat.
          const suppressed = capRefusals.admit(reg.name);
          if (suppressed !== null) logger.warn({ member: reg.name, suppressed }, full);
          finish(exhausted(`registration refused: ${full} (MEMBERS_MAX)`));
          return;
        }
        const checks = registeredChecks(reg.checks);
        if (typeof checks === "string") {
          logger.warn({ member: reg.name, peer: call.getPeer() }, checks);
          finish({ code: grpc.status.INVALID_ARGUMENT, details: checks });
          return;
        }
        name = reg.name;
        tracker.registered({
          name,
          address: reg.address,
          services: reg.services ?? [],
          checks,
        });
        extras?.keeper.checksReported(name, checks);
        extras?.keeper.report(name, reg.roles ?? []);
        refusals(name, reg.refused);
        ack(0, reg.checksVersion ?? 0);
        return;
      }
      if (r.heartbeat) {
        tracker.heard(name);
        extras?.keeper.report(name, r.heartbeat.roles ?? []);
        extras?.refusals?.heard(name);
        ack(r.heartbeat.seq, r.heartbeat.checksVersion ?? 0);
      } else if (r.check) {
        const { name: check, state, detail } = r.check;
        const problem = !check
          ? "a check report must name its check"
          : (reportedCheckNameProblem(check) ?? checkStateProblem(check, state));
        if (problem !== null) {
          // Refused, not guessed at: the member reconnects and registers its states afresh.
          logger.warn({ member: name, peer: call.getPeer() }, `check report refused: ${problem}`);
          finish({ code: grpc.status.INVALID_ARGUMENT, details: `check report refused: ${problem}` });
          return;
        }
        const full = detail ?? "";
        const kept = cutCheckDetail(full);
        if (kept !== full && !detailCutLogged) {
          detailCutLogged = true; // once per stream: a member cannot flood the log with it
          logger.warn(
            { member: name, check: quoteName(check), bytes: Buffer.byteLength(full) },
            `a check detail was cut to ${formatBytes(CHECK_DETAIL_MAX_BYTES)} (CHECK_DETAIL_MAX_BYTES)`,
          );
        }
        tracker.checkReported(name, check, state as CheckState, kept);
        extras?.keeper.checkReported(name, check, state as CheckState);
      } else if (r.refused) {
        refusals(name, r.refused);
      } else if (r.leave) {
        tracker.left(name);
        extras?.refusals?.left(name);
        logger.info({ member: name }, "member left");
        finish();
      }
    });
    call.on("end", () => finish());
    call.on("error", () => streams.delete(call));
    call.on("cancelled", () => streams.delete(call));
  };
  server.addService(memberServiceDefinition(), { Report: report });
  return endAll;
}
