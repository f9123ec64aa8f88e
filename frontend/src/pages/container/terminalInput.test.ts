import { describe, expect, it } from "vitest";
import { LineInput, splitStreamFrame } from "./terminalInput";

describe("splitStreamFrame", () => {
  it("reads the stream from the first byte of a frame without a TTY", () => {
    const { stream, data } = splitStreamFrame(Uint8Array.from([2, 104, 105]));
    expect(stream).toBe(2);
    expect(new TextDecoder().decode(data)).toBe("hi");
  });
});

describe("LineInput", () => {
  it("echoes keys and sends whole lines on Enter", () => {
    const input = new LineInput();
    expect(input.feed("ec")).toEqual({ echo: "ec", send: "", eof: false });
    expect(input.feed("ho\r")).toEqual({ echo: "ho\r\n", send: "echo\n", eof: false });
  });

  it("edits the line with backspace, and Ctrl-D sends what was typed and ends input", () => {
    const input = new LineInput();
    expect(input.feed("\x7f").echo).toBe("");
    expect(input.feed("ab\x7fc").echo).toBe("ab\b \bc");
    expect(input.feed("\x04ignored")).toEqual({ echo: "", send: "ac", eof: true });
  });
});
