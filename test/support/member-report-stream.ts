/**
 * A hand-driven member report stream for the trust tests: open MemberReports/Report on a
 * client the caller made (plain or TLS), send the given reports, and say how the call ended.
 */
import type { Duplex } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { memberServiceDefinition } from "../../src/rpc/service-definitions.ts";

/** How a report stream ended, and what the elector sent before. */
export interface ReportStreamEnd {
  readonly code: grpc.status;
  readonly details: string;
  readonly replies: unknown[];
}

/** The generic client class of the member report service. */
export const MemberReportsClient = grpc.makeGenericClientConstructor(
  memberServiceDefinition(),
  "MemberReports",
);

/**
 * Send `reports` on one stream of `client` with `metadata`; an acknowledgement ends our side
 * (so the server ends the call), a refusal ends it with its status. Closes `client`.
 */
export async function sendReports(
  client: grpc.Client,
  metadata: grpc.Metadata,
  reports: readonly object[],
): Promise<ReportStreamEnd> {
  try {
    return await new Promise((resolve) => {
      const replies: unknown[] = [];
      const stream = (client as unknown as Record<string, (md: grpc.Metadata) => Duplex>).Report!.call(
        client,
        metadata,
      );
      stream.on("data", (r: unknown) => {
        replies.push(r);
        stream.end();
      });
      stream.on("error", (e: grpc.ServiceError) => resolve({ code: e.code, details: e.details, replies }));
      stream.on("end", () => resolve({ code: grpc.status.OK, details: "", replies }));
      for (const r of reports) stream.write(r);
    });
  } finally {
    client.close();
  }
}
