// Types of static_server.mjs for the TypeScript tests that import it.
export interface StaticServer {
  origin: string;
  port: number;
  close(): Promise<void>;
}

export interface StaticServerOptions {
  /** URL prefix ('/', '/weights/') -> folder; the longest matching prefix wins. */
  mounts: Record<string, string>;
  /** Default 0: any free port. */
  port?: number;
}

export function startStaticServer(options: StaticServerOptions): Promise<StaticServer>;
