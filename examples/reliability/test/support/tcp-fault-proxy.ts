import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * The fault the proxy injects:
 * - `pass`: relay both ways untouched;
 * - `reset`: once a connection has carried `afterBytes` bytes from the client, destroy both
 *   sockets with a TCP RST (what a dying load balancer or a crashed server looks like);
 * - `stall`: once a connection has carried `afterBytes` bytes from the client, stop relaying in
 *   both directions and keep the sockets open (a hung server, a black-holed network).
 * `times` (default: unlimited) bounds how many connections are hit; later ones pass. The rule is
 * checked on every chunk of every connection, so it does not matter which pooled keep-alive
 * connection a client library picks.
 */
export type TcpFault = { kind: "pass" } | { kind: "reset" | "stall"; afterBytes: number; times?: number };

export interface TcpFaultProxy {
  /** `127.0.0.1:PORT` of the proxy. */
  host: string;
  port: number;
  /** The current fault; assign a new one at any time (it applies to open connections too). */
  fault: TcpFault;
  /** Connections opened, and how many were reset or stalled. */
  readonly stats: { connections: number; resets: number; stalls: number; bytesUp: number };
  /** Resets every connection currently stalled (the hung server finally drops them). */
  releaseStalls(): void;
  close(): Promise<void>;
}

/**
 * A fault-injecting TCP proxy written on node:net: it counts the bytes each client sends
 * upstream and, as the rule for that connection says, resets or stalls the connection once the
 * count passes a threshold — mid-request, mid-body, wherever the byte count falls. It knows
 * nothing about HTTP, so it breaks uploads the way a real network does.
 */
export async function startTcpFaultProxy(upstreamPort: number, upstreamHost = "127.0.0.1"): Promise<TcpFaultProxy> {
  const sockets = new Set<Socket>();
  const stalled = new Set<Socket>();
  const stats = { connections: 0, resets: 0, stalls: 0, bytesUp: 0 };
  const proxy: TcpFaultProxy = {
    host: "127.0.0.1",
    port: 0,
    fault: { kind: "pass" },
    stats,
    releaseStalls: () => {
      for (const socket of stalled) socket.resetAndDestroy();
      stalled.clear();
    },
    close: async () => {},
  };
  const server: Server = createServer((client) => {
    stats.connections++;
    const upstream = connect(upstreamPort, upstreamHost);
    sockets.add(client).add(upstream);
    const forget = () => {
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", forget);
    upstream.on("close", forget);
    // Errors are expected here (we cause them): relay the end, never crash the test process.
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    let sent = 0;
    let tripped = false;
    client.on("data", (chunk: Buffer) => {
      if (tripped) return;
      const fault = proxy.fault;
      if (fault.kind !== "pass" && sent + chunk.length > fault.afterBytes && (fault.times ?? 1) > 0) {
        tripped = true;
        if (fault.times !== undefined) fault.times--;
        const head = chunk.subarray(0, Math.max(0, fault.afterBytes - sent));
        if (head.length) upstream.write(head);
        stats.bytesUp += head.length;
        if (fault.kind === "reset") {
          stats.resets++;
          client.resetAndDestroy();
          upstream.resetAndDestroy();
        } else {
          stats.stalls++;
          client.pause();
          upstream.pause();
          stalled.add(client).add(upstream);
        }
        return;
      }
      sent += chunk.length;
      stats.bytesUp += chunk.length;
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once("drain", () => {
          if (!tripped) client.resume();
        });
      }
    });
    client.on("end", () => {
      if (!tripped) upstream.end();
    });
    upstream.on("data", (chunk: Buffer) => {
      if (tripped) return;
      if (!client.write(chunk)) {
        upstream.pause();
        client.once("drain", () => {
          if (!tripped) upstream.resume();
        });
      }
    });
    upstream.on("end", () => {
      if (!tripped) client.end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  proxy.port = typeof address === "object" && address ? address.port : 0;
  proxy.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}
