// Types of the code-sous cs-js runtime (SPEC §9), for editors and agents.
// Nothing here is imported at run time: `cs` and the web globals are provided by the isolate.

/** The second argument of the handler. Fields may be added, never removed. */
export interface Context {
  activation_id: string;
  /** Wall-clock deadline, ms since the epoch. */
  deadline_ms: number;
  tenant: string;
  namespace: string;
  function: string;
  version: number | null;
  ref: { alias?: string };
  trigger: { type: "http" | "schedule" | "cadence" | "api" };
  principal: { sub: string; roles: string[] };
}

/** The normalised response. Any other return value becomes `200` with a JSON body. */
export interface Response {
  statusCode?: number;
  headers?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
}

/** The event of an HTTP trigger (API Gateway v2 shape). */
export interface HttpEvent {
  version: "2.0";
  routeKey: "$default";
  rawPath: string;
  rawQueryString: string;
  headers: Record<string, string>;
  requestContext: { http: { method: string; path: string } };
  /** Base64 of the request body. */
  body: string;
  isBase64Encoded: true;
}

export type Handler<E = any> = (event: E, ctx: Context) => Response | unknown | Promise<Response | unknown>;

export interface FetchOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}
export interface FetchResponse {
  status: number;
  headers: Record<string, string>;
  /** Base64 of the response body. */
  body: string;
  isBase64Encoded: true;
}

/** An error thrown by a denied host call carries `code === "CS_RUNTIME_CAPABILITY_DENIED"`. */
export interface HostError extends Error {
  code: string;
}

export interface CsHostApi {
  log: {
    info(value: unknown): void;
    warn(value: unknown): void;
    error(value: unknown): void;
  };
  /** Present when the manifest grants `capabilities.kv`. Values are stored as JSON. */
  kv?: {
    get(key: string): Promise<unknown | null>;
    set(key: string, value: unknown, options?: { ttlSeconds?: number }): Promise<void>;
    del(key: string): Promise<void>;
  };
  /** Present when the manifest grants `capabilities.codeq`. */
  codeq?: { publish(topic: string, payload: unknown): Promise<void> };
  /** Present when the manifest grants `capabilities.http`. */
  http?: { fetch(url: string, options?: FetchOptions): Promise<FetchResponse> };
  /** Present when the trigger is a Cadence activity. */
  cadence?: { heartbeat(details?: unknown): Promise<void> };
}

declare global {
  const cs: CsHostApi;
}
