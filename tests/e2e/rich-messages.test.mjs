// The message surface beyond plain text, on the simulator: locations, contact cards, polls,
// replies with mentions, reactions, edits, revokes, poll votes, presence and typing, and
// Idempotency-Key. Sends are checked twice: through the events and history the tenant sees,
// and through what the simulated network received (GET /api/v1/sim/sessions/{id}/network).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { Gateway, TRANSPORTS, record, emitWithAck, sleep } from "./lib/gateway.mjs";

let gw, acme;
before(async () => {
  gw = await Gateway.start();
  acme = await gw.tenant("acme");
});
after(() => gw.close());

const CONTACT = "+628123456789";
const CONTACT_JID = "628123456789@s.whatsapp.net";

async function subscribed(id, transports = ["websocket"]) {
  await gw.connectedSession(acme, id);
  const s = await gw.connect({ transports, auth: { token: await gw.token(acme) } });
  const log = record(s);
  await emitWithAck(s, "session.subscribe", id);
  return log;
}

const send = (id, body, headers) => gw.api("POST", `/api/v1/sessions/${id}/messages`, acme.apiKey, body, headers);
const network = async (id) => (await gw.api("GET", `/api/v1/sim/sessions/${id}/network`, acme.apiKey)).body;
const history = async (id, chatId) =>
  (await gw.api("GET", `/api/v1/sessions/${id}/chats/${chatId}/messages`, acme.apiKey)).body;

async function readSteps(log, messageId) {
  await log.waitFor("message.status", (p) => p.messageId === messageId && p.status === "READ");
  return log
    .filter((e) => e.name === "message.status" && e.payload.messageId === messageId)
    .map((e) => e.payload.status);
}

for (const transports of TRANSPORTS) {
  const t = transports[0];
  describe(`rich sends over ${t}`, () => {
    test("location, contact card, poll and a reply with mentions each go PENDING -> SENT -> DELIVERED -> READ", async () => {
      const id = `kinds-${t}`;
      const log = await subscribed(id, transports);
      const first = await send(id, { to: CONTACT, text: "Which one?" });
      assert.equal(first.status, 202);
      await log.waitFor("message.status", (p) => p.messageId === first.body.id && p.status === "SENT");
      const firstNow = (await gw.api("GET", `/api/v1/sessions/${id}/messages/${first.body.id}`, acme.apiKey)).body;

      const requests = [
        { to: CONTACT, type: "location", location: { latitude: -6.175392, longitude: 106.827153, name: "Monas", address: "Jakarta" } },
        { to: CONTACT, contact: { name: "Budi Santoso", phone: "+62 811-2233-4455" } },
        { to: CONTACT, type: "poll", poll: { question: "Lunch?", options: ["Rice", "Noodles", "Both"], selectableCount: 2 } },
        { to: CONTACT, text: "This one, @628111222333", replyTo: first.body.id, mentions: ["+628111222333"] },
      ];
      const sent = [];
      for (const body of requests) {
        const r = await send(id, body);
        assert.equal(r.status, 202, JSON.stringify(r.body));
        assert.equal(r.body.status, "PENDING");
        const ev = await log.waitFor("message.sent", (p) => p.message.id === r.body.id);
        assert.deepEqual(ev.message, r.body);
        sent.push(r.body);
      }
      const [loc, card, poll, reply] = sent;
      assert.deepEqual([loc.type, loc.content, loc.location], ["location", "Monas", requests[0].location]);
      assert.equal(card.type, "contact");
      assert.equal(card.content, "Budi Santoso");
      assert.match(card.contact.vcard, /^BEGIN:VCARD\n/);
      assert.match(card.contact.vcard, /TEL;type=CELL;type=VOICE;waid=6281122334455:\+6281122334455/);
      assert.deepEqual(poll.poll, {
        question: "Lunch?",
        options: [{ name: "Rice", voters: [] }, { name: "Noodles", voters: [] }, { name: "Both", voters: [] }],
        selectableCount: 2,
      });
      assert.equal(poll.content, "Lunch?");
      assert.deepEqual(reply.quoted, { messageId: first.body.id, waMessageId: firstNow.waMessageId, fromJid: first.body.fromJid, content: "Which one?" });
      assert.deepEqual(reply.mentions, ["628111222333@s.whatsapp.net"]);
      assert.equal(reply.location, undefined, "blocks of other kinds are left out");

      for (const m of sent) assert.deepEqual(await readSteps(log, m.id), ["SENT", "DELIVERED", "READ"]);

      const wire = await network(id);
      const byWa = (m) => wire.find((r) => r.op === "message" && r.to === CONTACT_JID && r.waMessageId === m.waMessageId);
      const stored = await history(id, first.body.chatId);
      assert.deepEqual(stored.map((m) => m.type), ["text", "poll", "contact", "location", "text"]);
      for (const m of stored) {
        assert.equal(m.status, "READ");
        assert.ok(byWa(m), `the network got ${m.type} ${m.waMessageId}`);
      }
      const onWire = (type) => byWa(stored.find((m) => m.type === type && (type !== "text" || m.quoted)));
      assert.deepEqual(onWire("location").location, requests[0].location);
      assert.deepEqual([onWire("poll").pollQuestion, onWire("poll").pollOptions, onWire("poll").pollSelectableCount], ["Lunch?", ["Rice", "Noodles", "Both"], 2]);
      assert.equal(onWire("contact").contact.name, "Budi Santoso");
      const wireReply = onWire("text");
      assert.equal(wireReply.quotedWaMessageId, stored.at(-1).waMessageId, "the reply quotes the first message on the wire");
      assert.deepEqual(wireReply.mentions, ["628111222333@s.whatsapp.net"]);
    });
  });
}

describe("what happens to a message afterwards", () => {
  test("our reaction, edit and revoke reach the network, update history and emit their events", async () => {
    const id = "after-ours";
    const log = await subscribed(id);
    const r = await send(id, { to: CONTACT, text: "See you at 5" });
    await log.waitFor("message.status", (p) => p.messageId === r.body.id && p.status === "SENT");
    const path = `/api/v1/sessions/${id}/messages/${r.body.id}`;

    let x = await gw.api("PUT", `${path}/reaction`, acme.apiKey, { emoji: "👍" });
    assert.equal(x.status, 200, JSON.stringify(x.body));
    assert.deepEqual(x.body.reactions.map((e) => [e.fromJid, e.emoji]), [["15550000001@s.whatsapp.net", "👍"]]);
    let ev = await log.waitFor("message.reaction", (p) => p.emoji === "👍");
    assert.deepEqual([ev.fromJid, ev.removed, ev.message.id], ["15550000001@s.whatsapp.net", false, r.body.id]);
    x = await gw.api("PUT", `${path}/reaction`, acme.apiKey, { emoji: "❤️" });
    assert.deepEqual(x.body.reactions.map((e) => e.emoji), ["❤️"], "a new reaction replaces ours");
    x = await gw.api("DELETE", `${path}/reaction`, acme.apiKey);
    assert.equal(x.status, 200);
    assert.equal(x.body.reactions, undefined, "no reactions left");
    ev = await log.waitFor("message.reaction", (p) => p.removed);
    assert.equal(ev.emoji, "");

    x = await gw.api("PATCH", path, acme.apiKey, { text: "See you at 6" });
    assert.equal(x.status, 200, JSON.stringify(x.body));
    assert.equal(x.body.content, "See you at 6");
    ev = await log.waitFor("message.edited", (p) => p.message.id === r.body.id);
    assert.equal(ev.previousContent, "See you at 5");
    assert.ok(ev.message.editedAt);

    x = await gw.api("DELETE", path, acme.apiKey);
    assert.equal(x.status, 200, JSON.stringify(x.body));
    ev = await log.waitFor("message.revoked", (p) => p.message.id === r.body.id);
    assert.equal(ev.message.content, "");
    assert.ok(ev.message.revokedAt);
    const stored = (await gw.api("GET", path, acme.apiKey)).body;
    assert.deepEqual([stored.content, stored.revokedAt, stored.editedAt], ["", ev.message.revokedAt, ev.message.editedAt]);

    const wa = stored.waMessageId;
    const ops = (await network(id)).filter((o) => o.target === wa).map((o) => [o.op, o.emoji ?? o.text ?? null]);
    assert.deepEqual(ops, [["reaction", "👍"], ["reaction", "❤️"], ["reaction", ""], ["edit", "See you at 6"], ["revoke", null]]);

    for (const [method, url, body, code] of [
      ["PATCH", path, { text: "again" }, "message_revoked"],
      ["DELETE", path, undefined, "message_revoked"],
      ["PUT", `${path}/reaction`, { emoji: "👍" }, "message_revoked"],
    ]) {
      const refused = await gw.api(method, url, acme.apiKey, body);
      assert.deepEqual([refused.status, refused.body.error.code], [409, code], `${method} ${url}`);
    }
  });

  test("a contact's reply, reaction, edit, revoke and poll votes update history and emit their events", async () => {
    const id = "after-theirs";
    const log = await subscribed(id);
    const poll = await send(id, { to: CONTACT, poll: { question: "Lunch?", options: ["Rice", "Noodles"], selectableCount: 1 } });
    await log.waitFor("message.status", (p) => p.messageId === poll.body.id && p.status === "SENT");
    const ours = (await gw.api("GET", `/api/v1/sessions/${id}/messages/${poll.body.id}`, acme.apiKey)).body;
    const sim = (what, body) => gw.api("POST", `/api/v1/sim/sessions/${id}/${what}`, acme.apiKey, body);

    const inbound = async (body) => {
      const r = await sim("inbound", { from: CONTACT, name: "Budi", ...body });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return log.waitFor("message.received", (p) => p.message.waMessageId === r.body.waMessageId);
    };
    let got = await inbound({ text: "Rice please", replyTo: ours.waMessageId, mentions: ["+15550000001"] });
    assert.deepEqual(got.message.quoted, { messageId: ours.id, waMessageId: ours.waMessageId, fromJid: ours.fromJid, content: "Lunch?" });
    assert.deepEqual(got.message.mentions, ["15550000001@s.whatsapp.net"]);
    const theirText = got.message;
    got = await inbound({ type: "location", location: { latitude: 1.29, longitude: 103.85, name: "Office" } });
    assert.deepEqual([got.message.type, got.message.content, got.message.location.latitude], ["location", "Office", 1.29]);
    got = await inbound({ type: "contact", contact: { name: "Ana", vcard: "BEGIN:VCARD\nVERSION:3.0\nFN:Ana\nEND:VCARD" } });
    assert.deepEqual([got.message.type, got.message.content, got.message.contact.name], ["contact", "Ana", "Ana"]);
    const linked = { url: "https://example.com/menu", title: "Menu", description: "Open 9 to 5" };
    got = await inbound({ text: "see https://example.com/menu", linkPreview: linked });
    assert.deepEqual(got.message.linkPreview, linked);
    assert.deepEqual((await history(id, got.message.chatId)).find((m) => m.id === got.message.id).linkPreview, linked);
    const mixed = await sim("inbound", { from: CONTACT, type: "location", location: { latitude: 1, longitude: 2 }, linkPreview: linked });
    assert.deepEqual([mixed.status, mixed.body.error.code], [422, "mixed_content"]);
    got = await inbound({ type: "poll", poll: { question: "Dessert?", options: ["Yes", "No"] } });
    assert.deepEqual([got.message.type, got.message.poll.options.map((o) => o.name)], ["poll", ["Yes", "No"]]);

    assert.equal((await sim("reaction", { from: CONTACT, waMessageId: ours.waMessageId, emoji: "😂" })).status, 204);
    let ev = await log.waitFor("message.reaction", (p) => p.message.id === ours.id);
    assert.deepEqual([ev.fromJid, ev.emoji, ev.message.reactions.length], [CONTACT_JID, "😂", 1]);

    assert.equal((await sim("vote", { from: CONTACT, waMessageId: ours.waMessageId, options: ["Noodles"] })).status, 204);
    ev = await log.waitFor("message.poll_vote", (p) => p.selected[0] === "Noodles");
    assert.deepEqual(ev.message.poll.options.map((o) => o.voters), [[], [CONTACT_JID]]);
    await sim("vote", { from: CONTACT, waMessageId: ours.waMessageId, options: ["Rice", "Noodles", "Pizza"] });
    ev = await log.waitFor("message.poll_vote", (p) => p.selected[0] === "Rice");
    assert.deepEqual(ev.selected, ["Rice"], "a single-choice poll keeps one option; unknown names are left out");
    assert.deepEqual(ev.message.poll.options.map((o) => o.voters), [[CONTACT_JID], []], "the new vote replaces the old");
    // A contact's own poll: the vote is sealed with the secret their poll carried.
    assert.equal((await sim("vote", { from: CONTACT, waMessageId: got.message.waMessageId, options: ["No"] })).status, 204);
    ev = await log.waitFor("message.poll_vote", (p) => p.message.id === got.message.id);
    assert.deepEqual([ev.selected, ev.message.poll.options.map((o) => o.voters)], [["No"], [[], [CONTACT_JID]]]);

    // A contact may not edit or revoke what we sent: nothing happens.
    await sim("edit", { from: CONTACT, waMessageId: ours.waMessageId, text: "forged" });
    await sim("revoke", { from: CONTACT, waMessageId: ours.waMessageId });
    assert.equal((await sim("edit", { from: CONTACT, waMessageId: theirText.waMessageId, text: "Noodles please" })).status, 204);
    ev = await log.waitFor("message.edited", (p) => p.message.id === theirText.id);
    assert.deepEqual([ev.previousContent, ev.message.content], ["Rice please", "Noodles please"]);
    assert.equal((await sim("revoke", { from: CONTACT, waMessageId: theirText.waMessageId })).status, 204);
    ev = await log.waitFor("message.revoked", (p) => p.message.id === theirText.id);
    const forged = log.filter((e) => ["message.edited", "message.revoked"].includes(e.name) && e.payload.message.id === ours.id);
    assert.deepEqual(forged, [], "actions on our message by the contact were ignored");
    const now = (await gw.api("GET", `/api/v1/sessions/${id}/messages/${ours.id}`, acme.apiKey)).body;
    assert.deepEqual([now.content, now.revokedAt], ["Lunch?", undefined]);
    const all = await history(id, ours.chatId);
    assert.equal(all.find((m) => m.id === theirText.id).revokedAt, ev.message.revokedAt);

    // Their message can be reacted to and replied to by us, but not edited or deleted.
    const mine = await gw.api("PUT", `/api/v1/sessions/${id}/messages/${got.message.id}/reaction`, acme.apiKey, { emoji: "👍" });
    assert.equal(mine.status, 200);
    for (const method of ["PATCH", "DELETE"]) {
      const r = await gw.api(method, `/api/v1/sessions/${id}/messages/${got.message.id}`, acme.apiKey, method === "PATCH" ? { text: "x" } : undefined);
      assert.deepEqual([r.status, r.body.error.code], [403, "not_own_message"]);
    }
  });
});

describe("the outbox", () => {
  test("a poll and a located reply accepted while reconnecting are sent whole when the session is back", async (t) => {
    // A gateway of its own that keeps retrying through the outage the test needs.
    const own = await Gateway.start({ WAGATE_SESSIONS__MAX_RECONNECT_ATTEMPTS: "100" });
    t.after(() => own.close());
    const [gw, acme] = [own, await own.tenant("acme")];
    const id = "outbox";
    await gw.connectedSession(acme, id);
    const s = await gw.connect({ transports: ["websocket"], auth: { token: await gw.token(acme) } });
    const log = record(s);
    await emitWithAck(s, "session.subscribe", id);
    const send = (id, body) => gw.api("POST", `/api/v1/sessions/${id}/messages`, acme.apiKey, body);
    const network = async (id) => (await gw.api("GET", `/api/v1/sim/sessions/${id}/network`, acme.apiKey)).body;
    const first = await send(id, { to: CONTACT, text: "before the drop" });
    await log.waitFor("message.status", (p) => p.messageId === first.body.id && p.status === "SENT");
    assert.equal((await gw.api("POST", `/api/v1/sim/sessions/${id}/drop`, acme.apiKey, { outageMs: 500 })).status, 204);
    await gw.waitStatus(acme, id, "RECONNECTING");
    const poll = await send(id, { to: CONTACT, poll: { question: "Still there?", options: ["Yes", "No"] } });
    const place = await send(id, { to: CONTACT, location: { latitude: 10, longitude: 20, name: "Here" }, replyTo: first.body.id });
    assert.deepEqual([poll.status, place.status], [202, 202]);
    await gw.waitStatus(acme, id, "CONNECTED");
    for (const m of [poll.body, place.body]) await readSteps(log, m.id);
    const wire = (await network(id)).filter((r) => r.op === "message").slice(-2);
    assert.deepEqual(wire.map((r) => r.type), ["poll", "location"], "sent in the order accepted");
    assert.deepEqual([wire[0].pollQuestion, wire[0].pollOptions], ["Still there?", ["Yes", "No"]]);
    assert.deepEqual(wire[1].location, { latitude: 10, longitude: 20, name: "Here", address: null });
    const firstNow = (await gw.api("GET", `/api/v1/sessions/${id}/messages/${first.body.id}`, acme.apiKey)).body;
    assert.equal(wire[1].quotedWaMessageId, firstNow.waMessageId);
  });
});

describe("Idempotency-Key", () => {
  test("a retried send answers with the first message and sends nothing twice", async () => {
    const id = "idem";
    const log = await subscribed(id);
    const body = { to: CONTACT, text: "Invoice #42" };
    const key = { "idempotency-key": "order-42-invoice" };
    const a = await send(id, body, key);
    const b = await send(id, body, key);
    assert.deepEqual([a.status, b.status], [202, 202]);
    assert.equal(b.body.id, a.body.id);
    assert.equal(a.headers.get("idempotent-replayed"), null);
    assert.equal(b.headers.get("idempotent-replayed"), "true");
    await readSteps(log, a.body.id);
    const c = await send(id, body, key);
    assert.deepEqual([c.body.id, c.body.status], [a.body.id, "READ"], "a later retry sees the message as it is now");
    assert.equal(log.filter((e) => e.name === "message.sent").length, 1);
    assert.equal((await network(id)).filter((r) => r.op === "message").length, 1);

    const other = await send(id, { to: CONTACT, text: "Invoice #43" }, key);
    assert.deepEqual([other.status, other.body.error.code], [422, "idempotency_key_reused"]);
    const long = await send(id, body, { "idempotency-key": "k".repeat(256) });
    assert.deepEqual([long.status, long.body.error.code], [422, "invalid_idempotency_key"]);
    const fresh = await send(id, body, { "idempotency-key": "order-42-invoice-2" });
    assert.notEqual(fresh.body.id, a.body.id);
  });
});

describe("presence and typing", () => {
  test("reach the network; bad states and unknown chats are refused", async () => {
    const id = "presence";
    await subscribed(id);
    const r = await send(id, { to: CONTACT, text: "hi" });
    const chat = r.body.chatId;
    const call = (path, body) => gw.api("POST", `/api/v1/sessions/${id}${path}`, acme.apiKey, body);
    assert.equal((await call("/presence", { presence: "available" })).status, 204);
    for (const state of ["composing", "recording", "paused"]) {
      assert.equal((await call(`/chats/${chat}/presence`, { state })).status, 204);
    }
    await call("/presence", { presence: "unavailable" });
    const ops = (await network(id)).filter((o) => o.op !== "message").map((o) => o.presence ?? `${o.chat}:${o.state}`);
    assert.deepEqual(ops, ["available", `${CONTACT_JID}:composing`, `${CONTACT_JID}:recording`, `${CONTACT_JID}:paused`, "unavailable"]);

    let bad = await call(`/chats/${chat}/presence`, { state: "dancing" });
    assert.equal(bad.status, 422);
    assert.match(bad.body.error.message, /unknown variant/);
    bad = await call("/chats/nope/presence", { state: "composing" });
    assert.deepEqual([bad.status, bad.body.error.code], [404, "chat_not_found"]);
    await gw.api("POST", `/api/v1/sessions/${id}/disconnect`, acme.apiKey);
    bad = await call("/presence", { presence: "available" });
    assert.deepEqual([bad.status, bad.body.error.code], [409, "session_not_connected"]);
  });
});

describe("bad input", () => {
  test("each gets a precise error and nothing is half-sent", async () => {
    const id = "bad";
    const log = await subscribed(id);
    const ok = await send(id, { to: CONTACT, text: "first" });
    await log.waitFor("message.status", (p) => p.messageId === ok.body.id && p.status === "SENT");
    await gw.api("POST", `/api/v1/sim/sessions/${id}/inbound`, acme.apiKey, { from: "+628999", text: "elsewhere" });
    const other = await log.waitFor("message.received", (p) => p.message.content === "elsewhere");
    const loc = await send(id, { to: CONTACT, location: { latitude: 1, longitude: 2 } });
    await log.waitFor("message.status", (p) => p.messageId === loc.body.id && p.status === "SENT");
    const before = { sent: log.filter((e) => e.name === "message.sent").length, wire: (await network(id)).length };

    const cases = [
      [{ to: CONTACT, type: "carousel", text: "x" }, 422, "invalid_body", /unknown variant `carousel`/],
      [{ to: CONTACT }, 422, "missing_content", /one of text, location/],
      [{ to: CONTACT, type: "poll" }, 422, "missing_content", /poll/],
      [{ to: CONTACT, text: "x", location: { latitude: 1, longitude: 1 } }, 422, "mixed_content", /exactly one/],
      [{ to: CONTACT, type: "text", poll: { question: "q", options: ["a", "b"] } }, 422, "mixed_content", /exactly one/],
      [{ to: CONTACT, poll: { question: "Lunch?", options: ["Rice"] } }, 422, "invalid_poll", /2 to 12 options/],
      [{ to: CONTACT, poll: { question: "Lunch?", options: ["a", "a"] } }, 422, "invalid_poll", /repeats/],
      [{ to: CONTACT, poll: { question: "Lunch?", options: ["a", "b"], selectableCount: 3 } }, 422, "invalid_poll", /selectableCount/],
      [{ to: CONTACT, location: { latitude: 91, longitude: 0 } }, 422, "invalid_location", /latitude/],
      [{ to: CONTACT, contact: { name: "Ana" } }, 422, "invalid_contact", /vcard, phone/],
      [{ to: CONTACT, contact: { name: "Ana", vcard: "hello" } }, 422, "invalid_contact", /BEGIN:VCARD/],
      [{ to: CONTACT, text: "x", replyTo: "nope" }, 422, "quoted_not_found", /nope/],
      [{ to: CONTACT, text: "x", replyTo: other.message.id }, 422, "quoted_other_chat", /another chat/],
      [{ to: CONTACT, text: "x", mentions: ["not a number"] }, 422, "invalid_mentions", /./],
      [{ to: "nobody", text: "x" }, 422, "invalid_recipient", /./],
    ];
    for (const [body, status, code, message] of cases) {
      const r = await send(id, body);
      assert.equal(r.status, status, `${JSON.stringify(body)} -> ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, code, JSON.stringify(body));
      assert.match(r.body.error.message, message);
    }
    const msg = (m) => `/api/v1/sessions/${id}/messages/${m}`;
    const ops = [
      ["PUT", `${msg("nope")}/reaction`, { emoji: "👍" }, 404, "message_not_found"],
      ["PUT", `${msg(ok.body.id)}/reaction`, { emoji: "ok" }, 422, "invalid_emoji"],
      ["PUT", `${msg(ok.body.id)}/reaction`, { emoji: "👍", extra: 1 }, 422, "invalid_body"],
      ["PATCH", msg(other.message.id), { text: "mine now" }, 403, "not_own_message"],
      ["PATCH", msg(loc.body.id), { text: "x" }, 422, "not_editable"],
      ["PATCH", msg(ok.body.id), { text: "  " }, 422, "invalid_text"],
      ["DELETE", msg(other.message.id), undefined, 403, "not_own_message"],
      ["DELETE", msg("nope"), undefined, 404, "message_not_found"],
    ];
    for (const [method, path, body, status, code] of ops) {
      const r = await gw.api(method, path, acme.apiKey, body);
      assert.deepEqual([r.status, r.body?.error?.code], [status, code], `${method} ${path} ${JSON.stringify(r.body)}`);
    }
    await sleep(100);
    assert.equal(log.filter((e) => e.name === "message.sent").length, before.sent, "no refused send was stored");
    assert.equal((await network(id)).length, before.wire, "nothing refused reached the network");
    assert.deepEqual(log.names((n) => ["message.reaction", "message.edited", "message.revoked"].includes(n)), []);
  });
});

// The smallest files each kind accepts, as their first bytes make them.
const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489", "hex");
const PDF = Buffer.from("%PDF-1.4\n% a tiny document\n");
const MP4 = Buffer.concat([Buffer.from("00000018667479706d703432", "hex"), Buffer.from("mp42isom"), Buffer.alloc(4), Buffer.from("moov")]);
const MP3 = Buffer.concat([Buffer.from("ID3\x03\0\0\0\0\0\0", "binary"), Buffer.from([0xff, 0xfb, 0x90, 0x64]), Buffer.alloc(16)]);
const WEBP = Buffer.from("RIFF\x1a\0\0\0WEBPVP8L\x0d\0\0\0\x2f\0\0\0\x10\x07\x10\x11\x11\x88\x88\xfe\x07\0", "binary");
const ogg = (codec) => Buffer.concat([Buffer.from("OggS\0\x02", "binary"), Buffer.alloc(22), Buffer.from(codec, "binary"), Buffer.from([1, 2, 0x38, 1, 0x80, 0xbb, 0, 0, 0, 0, 0])]);
const sha256 = async (buf) => (await import("node:crypto")).createHash("sha256").update(buf).digest("hex");

async function fetchMedia(url) {
  const res = await fetch(gw.url + url, { headers: { authorization: `Bearer ${acme.apiKey}` } });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

describe("media", () => {
  test("image (JSON), document (multipart) and voice note go PENDING -> READ and their files reach the network byte for byte", async () => {
    const id = "media-out";
    const log = await subscribed(id);
    const image = await send(id, { to: CONTACT, type: "image", caption: "the logo", media: { base64: PNG.toString("base64") } });
    assert.equal(image.status, 202, JSON.stringify(image.body));
    assert.deepEqual([image.body.type, image.body.content, image.body.media.mimeType, image.body.media.size], ["image", "the logo", "image/png", PNG.length]);
    assert.equal(image.body.media.sha256, await sha256(PNG));
    assert.equal(image.body.mediaUrl, `/api/v1/sessions/${id}/messages/${image.body.id}/media`);

    const form = new FormData();
    form.set("to", CONTACT);
    form.set("type", "document");
    form.set("caption", "March");
    form.set("file", new Blob([PDF]), "invoice März.pdf");
    let r = await fetch(`${gw.url}/api/v1/sessions/${id}/messages`, { method: "POST", headers: { authorization: `Bearer ${acme.apiKey}` }, body: form });
    const doc = await r.json();
    assert.equal(r.status, 202, JSON.stringify(doc));
    assert.deepEqual([doc.type, doc.media.mimeType, doc.media.fileName, doc.content], ["document", "application/pdf", "invoice März.pdf", "March"]);

    const voice = await send(id, { to: CONTACT, type: "voice", media: { base64: ogg("OpusHead").toString("base64") } });
    assert.equal(voice.status, 202, JSON.stringify(voice.body));
    assert.deepEqual([voice.body.type, voice.body.media.voiceNote, voice.body.media.mimeType], ["audio", true, "audio/ogg; codecs=opus"]);

    for (const m of [image.body, doc, voice.body]) assert.deepEqual(await readSteps(log, m.id), ["SENT", "DELIVERED", "READ"]);
    const wire = (await network(id)).filter((o) => o.op === "message");
    assert.deepEqual(wire.map((o) => [o.type, o.media.sha256, o.media.size]), [
      ["image", await sha256(PNG), PNG.length],
      ["document", await sha256(PDF), PDF.length],
      ["audio", await sha256(ogg("OpusHead")), ogg("OpusHead").length],
    ]);
    assert.deepEqual([wire[1].media.fileName, wire[1].text, wire[2].media.voiceNote], ["invoice März.pdf", "March", true]);

    const got = await fetchMedia(image.body.mediaUrl);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(PNG), "served byte for byte");
    assert.equal(got.headers.get("content-type"), "image/png");
    assert.equal(got.headers.get("x-content-type-options"), "nosniff");
    assert.equal(got.headers.get("etag"), `"${await sha256(PNG)}"`);
    const gotDoc = await fetchMedia(doc.mediaUrl);
    assert.ok(gotDoc.body.equals(PDF));
    assert.equal(gotDoc.headers.get("content-disposition"), 'attachment; filename="invoice M_rz.pdf"');
    const text = await send(id, { to: CONTACT, text: "no file" });
    const none = await fetchMedia(`/api/v1/sessions/${id}/messages/${text.body.id}/media`);
    assert.deepEqual([none.status, JSON.parse(none.body).error.code], [404, "media_not_found"]);
  });

  test("video, audio and sticker go PENDING -> READ both ways; a contact's voice note, video and sticker download byte for byte", async () => {
    const id = "media-kinds";
    const log = await subscribed(id);
    const sent = [];
    for (const [type, buf, mime, caption] of [["video", MP4, "video/mp4", "the clip"], ["audio", MP3, "audio/mpeg"], ["sticker", WEBP, "image/webp"]]) {
      const r = await send(id, { to: CONTACT, type, ...(caption ? { caption } : {}), media: { base64: buf.toString("base64") } });
      assert.equal(r.status, 202, `${type}: ${JSON.stringify(r.body)}`);
      assert.deepEqual([r.body.type, r.body.media.mimeType, r.body.media.size, r.body.media.voiceNote ?? false], [type, mime, buf.length, false]);
      sent.push([r.body, buf]);
    }
    for (const [m] of sent) assert.deepEqual(await readSteps(log, m.id), ["SENT", "DELIVERED", "READ"]);
    const wire = (await network(id)).filter((o) => o.op === "message");
    assert.deepEqual(wire.map((o) => [o.type, o.media.sha256]), await Promise.all(sent.map(async ([m, buf]) => [m.type, await sha256(buf)])));
    assert.equal(wire[0].text, "the clip");
    for (const [m, buf] of sent) assert.ok((await fetchMedia(m.mediaUrl)).body.equals(buf), `${m.type} served byte for byte`);

    const sim = (body) => gw.api("POST", `/api/v1/sim/sessions/${id}/inbound`, acme.apiKey, { from: CONTACT, ...body });
    for (const [type, buf, media, want] of [
      ["audio", ogg("OpusHead"), { voiceNote: true, mimeType: "audio/ogg; codecs=opus" }, { type: "audio", voiceNote: true }],
      ["video", MP4, { mimeType: "video/mp4" }, { type: "video", voiceNote: false }],
      ["sticker", WEBP, { mimeType: "image/webp" }, { type: "sticker", voiceNote: false }],
    ]) {
      const r = await sim({ type, media: { base64: buf.toString("base64"), ...media } });
      assert.equal(r.status, 202, `${type}: ${JSON.stringify(r.body)}`);
      const m = (await log.waitFor("message.received", (p) => p.message.waMessageId === r.body.waMessageId)).message;
      assert.deepEqual({ type: m.type, voiceNote: m.media.voiceNote ?? false }, want);
      assert.deepEqual([m.media.size, m.media.sha256], [buf.length, await sha256(buf)]);
      assert.ok((await fetchMedia(m.mediaUrl)).body.equals(buf), `a contact's ${type} served byte for byte`);
    }
  });

  test("a contact's image and document are downloaded, announced with their SHA-256 and served byte for byte", async () => {
    const id = "media-in";
    const log = await subscribed(id);
    const sim = (body) => gw.api("POST", `/api/v1/sim/sessions/${id}/inbound`, acme.apiKey, { from: CONTACT, ...body });
    let r = await sim({ type: "image", text: "our menu", media: { base64: PNG.toString("base64"), mimeType: "image/png" } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const img = (await log.waitFor("message.received", (p) => p.message.waMessageId === r.body.waMessageId)).message;
    assert.deepEqual([img.type, img.content, img.media.mimeType, img.media.size, img.media.sha256], ["image", "our menu", "image/png", PNG.length, await sha256(PNG)]);
    assert.ok((await fetchMedia(img.mediaUrl)).body.equals(PNG));
    r = await sim({ type: "document", media: { base64: PDF.toString("base64"), fileName: "terms.pdf" } });
    const doc = (await log.waitFor("message.received", (p) => p.message.waMessageId === r.body.waMessageId)).message;
    assert.deepEqual([doc.media.mimeType, doc.media.fileName, doc.media.sha256], ["application/pdf", "terms.pdf", await sha256(PDF)]);
    const served = await fetchMedia(doc.mediaUrl);
    assert.ok(served.body.equals(PDF));
    const stored = await history(id, doc.chatId);
    assert.deepEqual(stored.map((m) => m.mediaUrl), [doc.mediaUrl, img.mediaUrl]);
    // Another tenant's credential finds nothing.
    const other = await gw.tenant("media-other");
    const res = await fetch(gw.url + img.mediaUrl, { headers: { authorization: `Bearer ${other.apiKey}` } });
    assert.equal(res.status, 404);
  });

  test("files break WhatsApp's rules: each refused precisely, nothing stored or sent", async () => {
    const id = "media-bad";
    const log = await subscribed(id);
    const before = (await network(id)).length;
    const b64 = (buf) => buf.toString("base64");
    const cases = [
      [{ type: "video", media: { base64: b64(PNG) } }, 415, "unsupported_media_type", /video must be MP4 or 3GP; the file is image\/png/],
      [{ type: "image", media: { base64: b64(PDF) } }, 415, "unsupported_media_type", /JPEG or PNG/],
      [{ type: "voice", media: { base64: b64(ogg("\x01vorbis\0")) } }, 415, "unsupported_media_type", /Opus .*libopus/],
      [{ type: "sticker", media: { base64: b64(Buffer.alloc(600 * 1024)) } }, 413, "media_too_large", /limited to 512000 bytes/],
      [{ type: "image", media: { base64: "" } }, 422, "invalid_media", /empty/],
      [{ type: "image", media: { base64: "not base64!" } }, 422, "invalid_media", /base64/],
      [{ type: "image" }, 422, "missing_content", /needs 'media'/],
      [{ type: "image", text: "x", media: { base64: b64(PNG) } }, 422, "mixed_content", /caption/],
      [{ media: { base64: b64(PNG) } }, 422, "mixed_content", /media type/],
      [{ type: "audio", caption: "x", media: { base64: b64(ogg("OpusHead")) } }, 422, "invalid_caption", /no caption/],
      [{ type: "image", media: { base64: b64(PNG), url: "http://x" } }, 422, "invalid_media", /exactly one of base64, url/],
      [{ type: "image", media: { base64: b64(PNG), path: "/etc/passwd" } }, 422, "invalid_body", /unknown field `path`/],
    ];
    for (const [body, status, code, message] of cases) {
      const r = await send(id, { to: CONTACT, ...body });
      assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 120)} -> ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, code);
      assert.match(r.body.error.message, message);
    }
    await sleep(100);
    assert.equal((await network(id)).length, before);
    assert.deepEqual(log.names((n) => n === "message.sent"), []);
  });
});

describe("one contact behind a number and a LID", () => {
  test("a contact WhatsApp starts addressing by LID alone keeps its chat, and its actions find their messages", async () => {
    const id = "lid-switch";
    const log = await subscribed(id);
    const LID = "98765432101234@lid";
    const sim = (path, body) => gw.api("POST", `/api/v1/sim/sessions/${id}/${path}`, acme.apiKey, body);
    let r = await sim("inbound", { from: CONTACT, lid: LID, text: "hi, by number" });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const first = (await log.waitFor("message.received", (p) => p.message.waMessageId === r.body.waMessageId)).message;
    assert.deepEqual([first.fromJid, first.fromLid], [CONTACT_JID, LID]);

    r = await sim("inbound", { from: LID, text: "now by LID only" });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const second = (await log.waitFor("message.received", (p) => p.message.waMessageId === r.body.waMessageId)).message;
    assert.equal(second.chatId, first.chatId, "the same chat");
    assert.deepEqual([second.fromJid, second.fromNumber, second.fromLid], [CONTACT_JID, CONTACT, LID]);

    // What the contact does by LID lands on the chat's messages, in the number's name.
    const ours = await send(id, { to: CONTACT, text: "Noted" });
    await log.waitFor("message.status", (p) => p.messageId === ours.body.id && p.status === "SENT");
    const waId = (await gw.api("GET", `/api/v1/sessions/${id}/messages/${ours.body.id}`, acme.apiKey)).body.waMessageId;
    assert.equal((await sim("reaction", { from: LID, waMessageId: waId, emoji: "👍" })).status, 204);
    const reacted = await log.waitFor("message.reaction", (p) => p.message.id === ours.body.id);
    assert.equal(reacted.fromJid, CONTACT_JID);
    assert.equal((await sim("edit", { from: LID, waMessageId: second.waMessageId, text: "edited by LID" })).status, 204);
    const edited = await log.waitFor("message.edited", (p) => p.message.id === second.id);
    assert.equal(edited.message.content, "edited by LID");

    // A LID never seen with a number stays a contact of its own.
    r = await sim("inbound", { from: "11112222333344@lid", text: "a stranger" });
    const stranger = (await log.waitFor("message.received", (p) => p.message.waMessageId === r.body.waMessageId)).message;
    assert.notEqual(stranger.chatId, first.chatId);
    const chats = (await gw.api("GET", `/api/v1/sessions/${id}/chats`, acme.apiKey)).body;
    assert.deepEqual(chats.map((c) => c.jid).sort(), [CONTACT_JID, "11112222333344@lid"].sort());
  });
});

describe("who is on WhatsApp", () => {
  test("a contact's profile: what the network shows, the name it wrote under, and its LID joined to its chat", async () => {
    const id = "profile";
    const log = await subscribed(id);
    const LID = "55501234567890@lid";
    const profile = { number: CONTACT, about: "Available", pictureUrl: "https://pps.whatsapp.net/v/t61/abc.jpg", business: true, lid: LID };
    assert.equal((await gw.api("POST", `/api/v1/sim/sessions/${id}/contacts`, acme.apiKey, profile)).status, 204);
    let r = await gw.api("POST", `/api/v1/sim/sessions/${id}/inbound`, acme.apiKey, { from: CONTACT, name: "Budi", text: "hi" });
    const first = (await log.waitFor("message.received", (p) => p.message.waMessageId === r.body.waMessageId)).message;
    const info = await gw.api("GET", `/api/v1/sessions/${id}/contacts/${encodeURIComponent(CONTACT)}`, acme.apiKey);
    assert.equal(info.status, 200, JSON.stringify(info.body));
    assert.deepEqual(info.body, {
      jid: CONTACT_JID,
      number: CONTACT,
      lid: LID,
      name: "Budi",
      about: "Available",
      business: true,
      pictureUrl: "https://pps.whatsapp.net/v/t61/abc.jpg",
    });
    // The LID the profile told is now the number's: a message by LID alone joins its chat.
    r = await gw.api("POST", `/api/v1/sim/sessions/${id}/inbound`, acme.apiKey, { from: LID, text: "by LID" });
    const byLid = (await log.waitFor("message.received", (p) => p.message.waMessageId === r.body.waMessageId)).message;
    assert.equal(byLid.chatId, first.chatId);
    // A number without a profile set shows nothing but its number.
    const plain = await gw.api("GET", `/api/v1/sessions/${id}/contacts/628999000111@s.whatsapp.net`, acme.apiKey);
    assert.deepEqual(plain.body, { jid: "628999000111@s.whatsapp.net", number: "+628999000111", lid: null, name: null, about: null, business: false, pictureUrl: null });

    await gw.api("POST", `/api/v1/sim/sessions/${id}/invalid-numbers`, acme.apiKey, { numbers: ["+628111000333"] });
    for (const [contact, status, code] of [["+628111000333", 404, "not_on_whatsapp"], ["abc", 422, "invalid_contact"], ["120363000000000000@g.us", 422, "invalid_contact"]]) {
      const bad = await gw.api("GET", `/api/v1/sessions/${id}/contacts/${encodeURIComponent(contact)}`, acme.apiKey);
      assert.deepEqual([bad.status, bad.body.error.code], [status, code], JSON.stringify(bad.body));
    }
    const badSim = await gw.api("POST", `/api/v1/sim/sessions/${id}/contacts`, acme.apiKey, { number: CONTACT, lid: "123" });
    assert.deepEqual([badSim.status, badSim.body.error.code], [422, "invalid_lid"]);
    await gw.api("POST", `/api/v1/sessions/${id}/disconnect`, acme.apiKey);
    const offline = await gw.api("GET", `/api/v1/sessions/${id}/contacts/${encodeURIComponent(CONTACT)}`, acme.apiKey);
    assert.deepEqual([offline.status, offline.body.error.code], [409, "session_not_connected"]);
  });

  test("numbers are checked in the order asked; bad lists and offline sessions are refused", async () => {
    const id = "check";
    await gw.connectedSession(acme, id);
    const check = (numbers) => gw.api("POST", `/api/v1/sessions/${id}/contacts/check`, acme.apiKey, { numbers });
    assert.equal((await gw.api("POST", `/api/v1/sim/sessions/${id}/invalid-numbers`, acme.apiKey, { numbers: ["+628111000222"] })).status, 204);
    const r = await check(["+62 812-3456-789", "+628111000222", "628999000111@s.whatsapp.net"]);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, [
      { number: "+62 812-3456-789", jid: CONTACT_JID, exists: true, lid: null, business: false },
      { number: "+628111000222", jid: "628111000222@s.whatsapp.net", exists: false, lid: null, business: false },
      { number: "628999000111@s.whatsapp.net", jid: "628999000111@s.whatsapp.net", exists: true, lid: null, business: false },
    ]);
    for (const [numbers, message] of [
      [[], /1 to 50/],
      [Array.from({ length: 51 }, (_, i) => `+6281100${String(i).padStart(4, "0")}`), /1 to 50/],
      [["+628123", "not a number"], /'not a number' is not a phone number/],
      [["120363000000000000@g.us"], /is not a phone number/],
    ]) {
      const bad = await check(numbers);
      assert.deepEqual([bad.status, bad.body.error.code], [422, "invalid_numbers"], JSON.stringify(bad.body));
      assert.match(bad.body.error.message, message);
    }
    assert.equal((await gw.api("POST", `/api/v1/sessions/${id}/disconnect`, acme.apiKey)).status, 200);
    const offline = await check([CONTACT]);
    assert.deepEqual([offline.status, offline.body.error.code], [409, "session_not_connected"]);
  });
});
