/**
 * An in-process PeerTransport network for driver tests: messages are delivered on a later
 * turn of the event loop, and links can be cut to make partitions.
 */
import type { Message, NodeId } from "../../raft/index.ts";
import type { PeerTransport, PeerTransportEvents } from "../../src/transport/peer-transport.ts";

/** The shared in-memory network. */
export class MemoryNetwork {
  private readonly endpoints = new Map<NodeId, PeerTransportEvents>();
  readonly down = new Set<NodeId>();

  /** A transport for node `id`, for ElectorNode's `transport` option. */
  transport(id: NodeId): (events: PeerTransportEvents) => PeerTransport {
    return (events) => {
      this.endpoints.set(id, events);
      return {
        send: (messages: readonly Message[]) => {
          for (const m of messages) {
            setImmediate(() => {
              const to = this.endpoints.get(m.to);
              if (!to || this.down.has(m.to) || this.down.has(m.from)) {
                events.onUnreachable(m.to);
                if (m.type === "snap") events.onSnapshotStatus(m.to, false);
                return;
              }
              to.onMessage(m);
              if (m.type === "snap") events.onSnapshotStatus(m.to, true);
            });
          }
        },
        setPeers: () => {},
        close: async () => {
          this.endpoints.delete(id);
        },
      };
    };
  }
}
