/** The typed REST client (paths and bodies generated from the OpenAPI schema) with session + CSRF auth. */
import createClient, { type Middleware } from "openapi-fetch";
import { ApiError } from "./errors";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

export function cookie(name: string): string {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

/** Django's CSRF check for session-authenticated writes: the cookie's value in a header. */
export function csrfHeaders(method: string): Record<string, string> {
  return SAFE.has(method.toUpperCase()) ? {} : { "X-CSRFToken": cookie("csrftoken") };
}

const csrf: Middleware = {
  onRequest({ request }) {
    for (const [key, value] of Object.entries(csrfHeaders(request.method))) request.headers.set(key, value);
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });
api.use(csrf);

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Awaits an openapi-fetch call: its data, or an ApiError with the server's message. */
export async function call<T>(pending: Promise<FetchResult<T>>): Promise<T> {
  let result: FetchResult<T>;
  try {
    result = await pending;
  } catch (error) {
    throw new ApiError(0, `The server could not be reached: ${error instanceof Error ? error.message : String(error)}`);
  }
  const { data, error, response } = result;
  if (!response.ok) {
    if (response.status === 401 || response.status === 403) notifyAuthProblem(response.status, error);
    throw ApiError.fromBody(response.status, response.statusText, error);
  }
  return data as T;
}

/** For the few calls outside the typed paths (JSON endpoints under /auth/, APIs that may not exist yet). */
export async function request<T>(method: string, url: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...csrfHeaders(method),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, `The server could not be reached: ${error instanceof Error ? error.message : String(error)}`);
  }
  const text = await response.text();
  let parsed: unknown = text;
  if ((response.headers.get("content-type") ?? "").includes("json") && text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) {
    if (response.status === 401) notifyAuthProblem(response.status, parsed);
    throw ApiError.fromBody(response.status, response.statusText, parsed);
  }
  return (text ? parsed : undefined) as T;
}

type AuthListener = (status: number) => void;
const authListeners = new Set<AuthListener>();

/** Lets the session provider send a signed-out user to the login page. */
export function onAuthProblem(listener: AuthListener): () => void {
  authListeners.add(listener);
  return () => authListeners.delete(listener);
}

function notifyAuthProblem(status: number, body: unknown): void {
  const code = body && typeof body === "object" ? (body as { code?: unknown }).code : undefined;
  if (status === 401 || code === "not_authenticated") for (const listener of authListeners) listener(401);
}
