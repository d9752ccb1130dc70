import type { Khata } from '@khata/runtime';
import { type ApiDeps, buildApp } from './app.ts';

export interface RunningServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Listens, and shuts down gracefully on SIGTERM/SIGINT: stops accepting connections, lets in-flight
 * requests finish (new ones get 503), then closes the app's plugins and Khata's pools.
 */
export async function startServer(
  deps: ApiDeps & { readonly khata: Khata; readonly host: string; readonly port: number },
): Promise<RunningServer> {
  const app = await buildApp(deps);
  const address = await app.listen({ host: deps.host, port: deps.port });
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= app.close();
    return closing;
  };
  return { url: address, close };
}
