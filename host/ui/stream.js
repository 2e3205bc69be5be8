// The tenant's committed events, live, from `GET /api/v1/events/stream` (Server-Sent Events
// read with fetch, because EventSource cannot send the Authorization header). After a drop it
// reconnects with the last `seq` it had as `Last-Event-ID`, so nothing is missed or repeated.

export class EventStream {
  constructor(api, { onEvent, onState }) {
    this.api = api;
    this.onEvent = onEvent;
    this.onState = onState || (() => {});
    this.lastSeq = null;
    this.stopped = false;
    this.retryMs = 500;
  }

  start() {
    this.run();
    return this;
  }

  stop() {
    this.stopped = true;
    if (this.abort) this.abort.abort();
  }

  async run() {
    while (!this.stopped) {
      let ended = null;
      try {
        ended = await this.once();
      } catch (e) {
        if (this.stopped) return;
        this.onState("reconnecting", e.message);
      }
      if (ended && ["token_expired", "tenant_deleted", "refused"].includes(ended.code)) {
        this.onState("ended", ended.message);
        return;
      }
      await new Promise((r) => setTimeout(r, this.retryMs));
      this.retryMs = Math.min(this.retryMs * 2, 10000);
    }
  }

  /// One connection; resolves with the `error` event that ended it, if one did.
  async once() {
    this.abort = new AbortController();
    const headers = this.api.headers({ Accept: "text/event-stream" });
    if (this.lastSeq !== null) headers["Last-Event-ID"] = String(this.lastSeq);
    const res = await fetch("/api/v1/events/stream", { headers, signal: this.abort.signal });
    if (!res.ok) {
      const body = await res.json().catch(() => null);
      const message = body && body.error ? body.error.message : `HTTP ${res.status}`;
      // A credential that no longer works will not work on the next try either.
      if (res.status === 401) return { code: "refused", message };
      // The journal does not know our last seq (a reset store): follow from now on.
      if (res.status === 422 && body && body.error && body.error.code === "seq_ahead") this.lastSeq = null;
      throw new Error(message);
    }
    this.onState("live");
    this.retryMs = 500;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the stream closed");
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const ev = parse(block);
        if (!ev) continue;
        if (ev.event === "error") return JSON.parse(ev.data);
        if (ev.id !== undefined) this.lastSeq = Number(ev.id);
        this.onEvent(ev.event, JSON.parse(ev.data));
      }
    }
  }
}

function parse(block) {
  const ev = { event: "message", data: "" };
  let any = false;
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
    if (field === "data") ev.data += (ev.data ? "\n" : "") + value;
    else if (field === "event") ev.event = value;
    else if (field === "id") ev.id = value;
    any = true;
  }
  return any && ev.data ? ev : null;
}
