/**
 * The schema of `conclave.yaml` in the YAML's own shape (snake_case keys, durations as text),
 * checking each field on its own. What zod cannot see from one field (roles listed twice,
 * heartbeat against member_timeout, the token file's content, ...) is checked afterwards, on
 * the parsed result, by `config-rules.ts`.
 */
import { EVENT_TYPES } from "../contract/events.ts";
import { checkSchema } from "./check-schema.ts";
import { describe } from "./config-error.ts";
import {
  DEFAULT_TIMING,
  HANDLER_DEFAULTS,
  HANDLER_MODES,
  type HandlerConfig,
  MAX_HANDLER_CONCURRENCY,
  ROLES,
  type Run,
} from "./node-config.ts";
import { commandSchema, durationSchema, hostPortSchema, nameSchema, nonEmpty } from "./schema-fields.ts";
import { z } from "./zod.ts";

/** A path in `cluster.tls`; the three are required together. */
const tlsFile = z.string({
  error: (iss) =>
    iss.input === undefined ? "is required: cluster.tls needs ca, cert and key together" : undefined,
});

/** `cluster.tls`. */
const tlsSchema = z.strictObject({ ca: tlsFile.min(1), cert: tlsFile.min(1), key: tlsFile.min(1) });

/** `cluster.auth`: the key files of role tokens (src/auth/auth-keys.ts), on electors. */
const authSchema = z.strictObject({
  peer_key_file: nonEmpty,
  members_key_file: nonEmpty,
  operators_key_file: nonEmpty,
});

/** `cluster:`. */
const clusterSchema = z.strictObject({
  electors: z.record(z.string(), hostPortSchema, {
    error: (iss) =>
      iss.code === "invalid_type" && iss.input !== undefined
        ? `must be a mapping of elector name to host:port, got ${describe(iss.input)}`
        : undefined,
  }),
  join: z.boolean().optional(),
  // Required unless cluster.auth is given (config-rules.ts): an elector with the keys derives
  // its own tokens; a member-only node keeps its one token (member.NAME.MAC) here.
  token_file: nonEmpty.optional(),
  tls: tlsSchema.nullish(),
  auth: authSchema.nullish(),
});

/** `timing:`, each duration with its default. */
const timingSchema = z.strictObject({
  heartbeat: durationSchema(DEFAULT_TIMING.heartbeatMs),
  member_timeout: durationSchema(DEFAULT_TIMING.memberTimeoutMs),
  raft_heartbeat: durationSchema(DEFAULT_TIMING.raftHeartbeatMs),
  election_timeout: durationSchema(DEFAULT_TIMING.electionTimeoutMs),
  master_lease: durationSchema(DEFAULT_TIMING.masterLeaseMs),
});

/** One entry of `handlers:`, producing a {@link HandlerConfig}. */
const handlerSchema = z
  .strictObject({
    name: nameSchema("handler"),
    on: z.array(z.enum(EVENT_TYPES)).min(1),
    run: commandSchema(true),
    timeout: durationSchema(HANDLER_DEFAULTS.timeoutMs),
    retries: z.int().min(0).default(HANDLER_DEFAULTS.retries),
    concurrency: z.int().min(1).max(MAX_HANDLER_CONCURRENCY).optional(),
    mode: z.enum(HANDLER_MODES).default(HANDLER_DEFAULTS.mode),
  })
  .superRefine((h, ctx) => {
    if (h.mode === "latest" && h.concurrency !== undefined && h.concurrency !== 1) {
      ctx.addIssue({
        code: "custom",
        path: ["concurrency"],
        input: h.concurrency,
        message: `must be 1 with mode: latest (one run covers every waiting event), got ${h.concurrency}`,
      });
    }
  })
  .transform((h): HandlerConfig => ({
    name: h.name,
    on: h.on,
    run: h.run as Run,
    timeoutMs: h.timeout,
    retries: h.retries,
    concurrency: h.concurrency ?? HANDLER_DEFAULTS.concurrency,
    mode: h.mode,
  }));

/** The whole file. */
export const configSchema = z.strictObject({
  name: nameSchema("node"),
  roles: z.array(z.enum(ROLES)).min(1),
  listen: hostPortSchema,
  advertise: hostPortSchema.nullish(),
  http: hostPortSchema.nullish(),
  data_dir: nonEmpty.nullish(),
  cluster: clusterSchema,
  timing: timingSchema.nullish(),
  handlers: z.array(handlerSchema).nullish(),
  checks: z.array(checkSchema).nullish(),
  services_dir: nonEmpty.nullish(),
  allow_remote_commands: z.boolean().nullish(),
});

/** A config file as {@link configSchema} parses it, before the rules across fields. */
export type RawConfig = z.output<typeof configSchema>;
