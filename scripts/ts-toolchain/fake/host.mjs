// The fake host a TypeScript plugin's tests run against under Node, as plugin-sdk's FakeHost
// is for Rust plugins: what the imports read, and what the plugin did through them. Tests
// import it as "wagate:testing" and set or read it between calls.
export const host = {};

/** Empties the host: no state, the clock at 0, nothing to read, nothing recorded. */
export function reset() {
  Object.assign(host, {
    nowMs: 0n,
    kv: new Map(),
    /** What `sessions.all()` answers (Session records). */
    sessions: [],
    /** Per session id, what `chats.recent()` pages through (Chat records). */
    chats: {},
    /** Per chat id, what `chats.history()` pages through (Message records, newest first). */
    history: {},
    /** Per message id, what `media.link()` answers. */
    mediaLinks: {},
    /** [level, message] of every log line. */
    logs: [],
    /** [session, request] of every message the plugin queued through `messages`. */
    queued: [],
    /** What `http.send()` answers, in order: `{ status, headers, body }` or `{ error }`. */
    httpAnswers: [],
    /** The requests the plugin sent. */
    httpRequests: [],
  });
}
reset();

/** A host error as the WIT's `error` variant, thrown as componentize-js throws it. */
export function hostError(tag, message) {
  const e = new Error(message);
  e.payload = { tag, val: message };
  return e;
}
