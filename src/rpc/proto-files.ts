/**
 * Loading the `.proto` files of proto/ at run time with protobufjs (no code generation),
 * and turning a protobufjs service into a grpc-js service definition for unary methods.
 */
import type * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { packagePath } from "../package-path.ts";

/** A proto file is missing or does not parse. */
export class ProtoLoadError extends Error {
  override readonly name = "ProtoLoadError";
}

/** How decoded messages become plain objects: numbers for 64-bit ints, defaults filled in. */
export const TO_OBJECT_OPTIONS: protobuf.IConversionOptions = {
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  oneofs: true,
};

const roots = new Map<string, protobuf.Root>();

/**
 * The parsed `proto/NAME.proto`, loaded once, found with {@link packagePath}.
 * @throws ProtoLoadError when the file is missing or does not parse
 */
export function loadProto(name: string): protobuf.Root {
  const cached = roots.get(name);
  if (cached) return cached;
  let file: string;
  try {
    file = packagePath(`proto/${name}.proto`);
  } catch (err) {
    throw new ProtoLoadError(err instanceof Error ? err.message : String(err));
  }
  try {
    const root = protobuf.loadSync(file);
    roots.set(name, root);
    return root;
  } catch (err) {
    throw new ProtoLoadError(`cannot load ${file}: ${(err as Error).message}`);
  }
}

/** A protobuf message type as grpc-js (de)serializers for plain objects. */
function serializers(type: protobuf.Type): {
  serialize: (value: object) => Buffer;
  deserialize: (bytes: Buffer) => object;
} {
  return {
    serialize: (value) => Buffer.from(type.encode(type.fromObject(value)).finish()),
    deserialize: (bytes) => type.toObject(type.decode(bytes), TO_OBJECT_OPTIONS),
  };
}

/**
 * A grpc-js service definition for every method of `serviceName` (e.g.
 * `conclave.control.Control`), keyed by method name (`KvPut`), unary or streaming as the
 * proto declares. Messages are plain objects; a malformed message fails to decode and
 * grpc-js fails the call without passing it to the handler.
 */
export function serviceDefinition(root: protobuf.Root, serviceName: string): grpc.ServiceDefinition {
  const service = root.lookupService(serviceName);
  const def: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const req = serializers(method.resolvedRequestType!);
    const res = serializers(method.resolvedResponseType!);
    def[method.name] = {
      path: `/${serviceName}/${method.name}`,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: req.serialize,
      requestDeserialize: req.deserialize,
      responseSerialize: res.serialize,
      responseDeserialize: res.deserialize,
    };
  }
  return def;
}
