/** Network helpers tests share. */
import { createServer } from "node:net";

/** A loopback port that was free a moment ago (bound, then released): for "nobody listens" and fixed-port tests. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
