import { describe, expect, it } from "vitest";
import { ApiError, errorMessage, formErrors, runFormFieldForPolicy } from "./errors";

const RUN_FIELDS = ["image", "name", "ports", "volumes", "network", "privileged", "engine_body", "memory"] as const;

describe("API errors", () => {
  it("keeps the server's message, code and fields", () => {
    const error = ApiError.fromBody(400, "Bad Request", {
      detail: "url: Enter a valid URL.",
      code: "invalid",
      fields: { url: ["Enter a valid URL."], name: "Required." },
    });
    expect(error.message).toBe("url: Enter a valid URL.");
    expect(error.code).toBe("invalid");
    expect(error.fields).toEqual({ url: ["Enter a valid URL."], name: ["Required."] });
  });

  it("never shows an HTML error page as a message", () => {
    expect(ApiError.fromBody(502, "Bad Gateway", "<html><body>oops</body></html>").message).toBe(
      "The server is unavailable (502).",
    );
    expect(ApiError.fromBody(500, "Internal Server Error", "boom").message).toBe("boom");
  });

  it("maps validation errors onto known form fields and keeps the rest for the form", () => {
    const error = ApiError.fromBody(400, "", {
      detail: "name: taken",
      code: "invalid",
      fields: { name: ["A host named 'x' exists."], non_field_errors: ["Check the URL."], other: ["odd"] },
    });
    expect(formErrors(error, ["name", "url"])).toEqual({
      fields: { name: "A host named 'x' exists." },
      form: "Check the URL. other: odd",
    });
  });

  it("shows a policy denial next to the field that produced the engine field it names", () => {
    const denial = ApiError.fromBody(403, "Forbidden", {
      rule: "privileged",
      field: "HostConfig.Privileged",
      detail: "Privileged containers are reserved for admins.",
      code: "policy_denied",
    });
    expect(denial.isPolicyDenial).toBe(true);
    const mapped = formErrors(denial, RUN_FIELDS, runFormFieldForPolicy);
    expect(mapped.form).toBeNull();
    expect(mapped.fields.privileged).toContain("Privileged containers are reserved for admins.");
    expect(mapped.fields.privileged).toContain("policy rule privileged");
    expect(errorMessage(denial)).toBe("Privileged containers are reserved for admins. (policy rule privileged)");
  });

  it("routes engine paths of the policy to run-form fields", () => {
    expect(runFormFieldForPolicy("HostConfig.Binds[0]")).toBe("volumes");
    expect(runFormFieldForPolicy("hostconfig.networkmode")).toBe("network");
    expect(runFormFieldForPolicy("HostConfig.PortBindings")).toBe("ports");
    expect(runFormFieldForPolicy("HostConfig.Memory")).toBe("memory");
    expect(runFormFieldForPolicy("HostConfig.CapAdd[0]")).toBe("engine_body");
  });

  it("puts a denial of a field the form does not have at the form level", () => {
    const denial = ApiError.fromBody(403, "", { rule: "capability", field: "HostConfig.CapAdd[0]", detail: "No.", code: "policy_denied" });
    expect(formErrors(denial, ["image"], runFormFieldForPolicy)).toEqual({
      fields: {},
      form: "No. (policy rule capability, field HostConfig.CapAdd[0])",
    });
  });
});
