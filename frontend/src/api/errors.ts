/** Errors from the REST API in one shape: `{detail, code, fields?}`, or a policy denial
 * `{rule, field, detail, code: "policy_denied"}` (see dockerweb/api.py). */

export interface ErrorBody {
  detail?: unknown;
  code?: unknown;
  fields?: unknown;
  rule?: unknown;
  field?: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** Validation messages by field name (as the server names them). */
  readonly fields: Record<string, string[]>;
  /** Policy denials: the rule id and the engine field (e.g. "HostConfig.Binds[0]"). */
  readonly rule: string | null;
  readonly field: string | null;

  constructor(status: number, message: string, init: Partial<Pick<ApiError, "code" | "fields" | "rule" | "field">> = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = init.code ?? "error";
    this.fields = init.fields ?? {};
    this.rule = init.rule ?? null;
    this.field = init.field ?? null;
  }

  get isPolicyDenial(): boolean {
    return this.code === "policy_denied";
  }

  /** Builds the error from a response status and its (already parsed) body. */
  static fromBody(status: number, statusText: string, body: unknown): ApiError {
    if (body && typeof body === "object") {
      const b = body as ErrorBody;
      const detail = typeof b.detail === "string" && b.detail ? b.detail : `${status} ${statusText}`.trim();
      return new ApiError(status, detail, {
        code: typeof b.code === "string" ? b.code : "error",
        fields: normaliseFields(b.fields),
        rule: typeof b.rule === "string" ? b.rule : null,
        field: typeof b.field === "string" ? b.field : null,
      });
    }
    const text = typeof body === "string" ? body.trim() : "";
    // An HTML error page is no message for a person; a short plain text body is.
    const usable = text && !text.startsWith("<") && text.length < 500 ? text : "";
    return new ApiError(status, usable || describeStatus(status, statusText), { code: codeForStatus(status) });
  }
}

function normaliseFields(fields: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!fields || typeof fields !== "object") return out;
  for (const [name, value] of Object.entries(fields as Record<string, unknown>)) {
    const messages = Array.isArray(value) ? value : [value];
    out[name] = messages.map((m) => (typeof m === "string" ? m : JSON.stringify(m)));
  }
  return out;
}

function codeForStatus(status: number): string {
  if (status === 401) return "not_authenticated";
  if (status === 403) return "permission_denied";
  if (status === 404) return "not_found";
  return "error";
}

function describeStatus(status: number, statusText: string): string {
  if (status === 0) return "The server could not be reached.";
  if (status === 404) return "Not found on this server (404).";
  if (status === 502 || status === 503 || status === 504) return `The server is unavailable (${status}).`;
  return `The server answered ${status}${statusText ? ` ${statusText}` : ""}.`;
}

/** A message for a person, for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    return error.rule ? `${error.message} (policy rule ${error.rule})` : error.message;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Errors to show next to form fields, keyed by the form's own field names, plus what names no field. */
export interface FormErrors {
  fields: Record<string, string>;
  form: string | null;
}

/**
 * Maps an API error onto a form: validation messages by field, and a policy denial onto the form field that
 * produced the engine field it names. `policyField` translates an engine field path to a form field name.
 */
export function formErrors(
  error: unknown,
  known: readonly string[],
  policyField: (enginePath: string) => string | null = () => null,
): FormErrors {
  if (!(error instanceof ApiError)) return { fields: {}, form: errorMessage(error) };
  if (error.isPolicyDenial) {
    const target = error.field ? policyField(error.field) : null;
    const message = `${error.message} (policy rule ${error.rule ?? "?"}, field ${error.field ?? "?"})`;
    if (target && known.includes(target)) return { fields: { [target]: message }, form: null };
    return { fields: {}, form: message };
  }
  const fields: Record<string, string> = {};
  const unplaced: string[] = [];
  for (const [name, messages] of Object.entries(error.fields)) {
    const text = messages.join(" ");
    if (known.includes(name)) fields[name] = text;
    else unplaced.push(name === "non_field_errors" ? text : `${name}: ${text}`);
  }
  if (Object.keys(error.fields).length === 0) unplaced.push(error.message);
  return { fields, form: unplaced.length ? unplaced.join(" ") : null };
}

/** Engine body paths (case-insensitive, as the policy names them) → run-form fields. */
const RUN_FIELD_PATHS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^hostconfig\.privileged$/i, "privileged"],
  [/^hostconfig\.(binds|mounts|volumesfrom|volumedriver)\b/i, "volumes"],
  [/^(volumes)\b/i, "volumes"],
  [/^hostconfig\.(networkmode)$/i, "network"],
  [/^networkingconfig\b/i, "network"],
  [/^(exposedports|hostconfig\.(portbindings|publishallports))\b/i, "ports"],
  [/^hostconfig\.(memory|memoryswap|memoryreservation|kernelmemory)\b/i, "memory"],
  [/^hostconfig\.(nanocpus|cpuquota|cpuperiod|cpushares|cpusetcpus)\b/i, "cpus"],
  [/^hostconfig\.restartpolicy\b/i, "restart_policy"],
  [/^image$/i, "image"],
  [/^(cmd|entrypoint)\b/i, "command"],
  [/^env\b/i, "env"],
  [/^labels\b/i, "labels"],
  [/^user$/i, "user"],
  [/^workingdir$/i, "working_dir"],
  [/^name$/i, "name"],
];

export function runFormFieldForPolicy(enginePath: string): string {
  for (const [pattern, field] of RUN_FIELD_PATHS) if (pattern.test(enginePath)) return field;
  // Anything else came from the advanced engine options.
  return "engine_body";
}
