// Server-Sent Events read with fetch(), so that the request carries the Authorization header (EventSource
// cannot send one). The parser follows the HTML standard's event-stream rules: lines end with CRLF, LF or CR;
// "data" lines join with a newline; a blank line dispatches; lines starting with ":" are comments.

export async function* serverEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let type = "";
  let data = [];
  try {
    for (let ended = false; !ended;) {
      const { value, done } = await reader.read();
      ended = done;
      buffer += value ?? "";
      for (;;) {
        const end = buffer.search(/\r\n|\r|\n/);
        if (end === -1) break;
        // A CR as the last character may be the first half of a CRLF split across chunks: wait for more,
        // unless the stream has ended.
        if (buffer[end] === "\r" && end === buffer.length - 1 && !ended) break;
        const width = buffer.startsWith("\r\n", end) ? 2 : 1;
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + width);
        if (line === "") {
          if (data.length) yield { type: type || "message", data: data.join("\n") };
          type = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let text = colon === -1 ? "" : line.slice(colon + 1);
        if (text.startsWith(" ")) text = text.slice(1);
        if (field === "event") type = text;
        else if (field === "data") data.push(text);
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
