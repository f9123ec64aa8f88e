/** Pure helpers of the console's terminal (no xterm.js here, so they are testable without a canvas). */

/** Splits an output frame of a session without a TTY: its first byte names the stream (1 stdout, 2 stderr). */
export function splitStreamFrame(frame: Uint8Array): { stream: number; data: Uint8Array } {
  return { stream: frame[0] ?? 1, data: frame.subarray(1) };
}

/**
 * Line editing for a process without a terminal (nothing echoes or edits input there): keys are echoed
 * here and a line is sent when Enter is pressed; Ctrl-D sends what was typed, then end of input.
 */
export class LineInput {
  private line = "";

  /** Feeds xterm's key data; returns what to echo, the input to send, and whether input ended. */
  feed(data: string): { echo: string; send: string; eof: boolean } {
    let echo = "";
    let send = "";
    let eof = false;
    for (const char of data) {
      if (eof) break;
      if (char === "\r" || char === "\n") {
        send += `${this.line}\n`;
        this.line = "";
        echo += "\r\n";
      } else if (char === "\x7f" || char === "\b") {
        if (this.line) {
          this.line = this.line.slice(0, -1);
          echo += "\b \b";
        }
      } else if (char === "\x04") {
        send += this.line;
        this.line = "";
        eof = true;
      } else if (char >= " " || char === "\t") {
        this.line += char;
        echo += char;
      }
    }
    return { echo, send, eof };
  }
}
