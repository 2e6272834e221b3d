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
  return answerOf<T>(path, response.status, response.statusText, await response.text());
}

function answerOf<T>(path: string, status: number, statusText: string, text: string): T {
  if (status === 401 && !path.startsWith("/auth/")) {
    signInAgain();
    throw new ApiError(401, "signed out");
  }
  const parsed: unknown = text ? JSON.parse(text) : null;
  if (status < 200 || status > 299) {
    const error = (parsed ?? {}) as ErrorBody;
    throw new ApiError(status, error.message ?? statusText, error.details);
  }
  return parsed as T;
}

/**
 * A form posted through XMLHttpRequest rather than fetch: only it tells how much of the body has
 * been sent, which is all there is to show while a large file goes up a slow link.
 */
export function upload<T>(
  path: string,
  options: {
    form: FormData;
    headers?: Record<string, string>;
    onUpload?: (sent: number, total: number) => void;
  },
): Promise<T> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", path);
    request.setRequestHeader("accept", "application/json");
    for (const [name, value] of Object.entries(options.headers ?? {})) request.setRequestHeader(name, value);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) options.onUpload?.(event.loaded, event.total);
    });
    request.addEventListener("load", () => {
      try {
        resolve(answerOf<T>(path, request.status, request.statusText, request.responseText));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    request.addEventListener("error", () => reject(new Error("the gateway could not be reached")));
    request.addEventListener("abort", () => reject(new Error("the upload was cancelled")));
    request.send(options.form);
  });
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
