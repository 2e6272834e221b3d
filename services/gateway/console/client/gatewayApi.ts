/// <reference lib="dom" />
// Calls to the gateway's REST API with the sign-in cookie; a 401 sends the browser back to sign in.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

interface ErrorBody {
  message?: string;
  details?: unknown;
}

export function signInAgain(): void {
  const next = `${location.pathname}${location.search}${location.hash}`;
  location.assign(`/signin?next=${encodeURIComponent(next)}`);
}

export async function api<T>(
  path: string,
  options: { method?: string; json?: unknown; form?: FormData; headers?: Record<string, string> } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json", ...options.headers };
  let body: BodyInit | undefined;
  if (options.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) body = options.form;
  const response = await fetch(path, {
    method: options.method ?? "GET",
    headers,
    credentials: "same-origin",
    ...(body !== undefined ? { body } : {}),
  });
  if (response.status === 401 && !path.startsWith("/auth/")) {
    signInAgain();
    throw new ApiError(401, "signed out");
  }
  const text = await response.text();
  const parsed: unknown = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = (parsed ?? {}) as ErrorBody;
    throw new ApiError(response.status, error.message ?? response.statusText, error.details);
  }
  return parsed as T;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
