/**
 * The gRPC server tells every client the most streams one connection may open at once
 * (GRPC_MAX_CONCURRENT_STREAMS, contract/limits.ts): read from the HTTP/2 SETTINGS frame a
 * plain HTTP/2 client receives, so the limit is shown on the wire, not in an options object.
 */
import { connect } from "node:http2";
import test from "ava";
import pino from "pino";
import { GRPC_MAX_CONCURRENT_STREAMS } from "../../../src/contract/limits.ts";
import { createGrpcServer } from "../../../src/rpc/grpc-server.ts";

test("the server announces GRPC_MAX_CONCURRENT_STREAMS in its HTTP/2 settings", async (t) => {
  const server = await createGrpcServer({
    listen: "127.0.0.1:0",
    token: "s3cret-cluster-token",
    logger: pino({ level: "silent" }),
  });
  t.teardown(() => server.close());
  const session = connect(`http://127.0.0.1:${server.port}`);
  t.teardown(() => session.close());
  const settings = await new Promise<{ maxConcurrentStreams?: number }>((resolve, reject) => {
    session.once("remoteSettings", resolve);
    session.once("error", reject);
  });
  t.is(settings.maxConcurrentStreams, GRPC_MAX_CONCURRENT_STREAMS);
  t.is(GRPC_MAX_CONCURRENT_STREAMS, 128);
});
