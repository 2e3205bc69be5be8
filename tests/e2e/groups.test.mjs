// WhatsApp groups on the simulator, end to end: create one, read and list it, change its
// subject and description, add/remove/promote/demote members with WhatsApp's per-member
// answers, share and revoke its invite link, join a contact's group by invite (and wait for
// approval in one that asks for it), leave; messages written in a group; what other members
// do, as canonical events; bad input and refusals.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { Gateway, emitWithAck, record } from "./lib/gateway.mjs";

let gw, acme;
before(async () => {
  gw = await Gateway.start();
  acme = await gw.tenant("acme");
});
after(() => gw.close());

const ME = "+15550000001";
const ME_JID = "15550000001@s.whatsapp.net";
const ANN = "628111111111@s.whatsapp.net";
const BOB = "628222222222@s.whatsapp.net";
const CAT = "628333333333@s.whatsapp.net";

const api = (method, path, body, key = acme.apiKey) => gw.api(method, path, key, body);

async function subscribed(id) {
  await gw.connectedSession(acme, id, ME);
  const s = await gw.connect({ transports: ["websocket"], auth: { token: await gw.token(acme) } });
  const log = record(s);
  await emitWithAck(s, "session.subscribe", id);
  return log;
}

describe("groups the session's number runs", () => {
  test("create, read, list, rename, describe: each change is an event and renames the chat", async () => {
    const id = "g-own";
    const log = await subscribed(id);
    const created = await api("POST", `/api/v1/sessions/${id}/groups`, { subject: "  Family  ", participants: ["+628111111111", BOB, "628111111111"] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const g = created.body;
    assert.match(g.jid, /^120363\d{12}@g\.us$/);
    assert.equal(g.subject, "Family");
    assert.equal(g.owner, ME_JID);
    assert.equal(g.size, 3);
    assert.deepEqual(
      g.participants.map((p) => [p.jid, p.number, p.role]),
      [[ME_JID, ME, "superadmin"], [ANN, "+628111111111", "member"], [BOB, "+628222222222", "member"]],
    );
    assert.ok(g.chatId, "the group has its chat");
    const joined = await log.waitFor("group.participants", (p) => p.groupJid === g.jid);
    assert.deepEqual([joined.action, joined.participants, joined.by, joined.chatId], ["add", [ME_JID, ANN, BOB], ME_JID, g.chatId]);
    const chat = await log.waitFor("chat.updated", (p) => p.chat.jid === g.jid);
    assert.deepEqual([chat.chat.id, chat.chat.name, chat.chat.isGroup], [g.chatId, "Family", true]);

    assert.deepEqual((await api("GET", `/api/v1/sessions/${id}/groups/${g.jid}`)).body, g);
    const digits = g.jid.split("@")[0];
    assert.deepEqual((await api("GET", `/api/v1/sessions/${id}/groups/${digits}`)).body, g, "the digits name the group too");
    const list = await api("GET", `/api/v1/sessions/${id}/groups`);
    assert.deepEqual(list.body.map((x) => x.jid), [g.jid]);

    const renamed = await api("PATCH", `/api/v1/sessions/${id}/groups/${g.jid}`, { subject: "Family 2026", description: "Weekend plans" });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.deepEqual([renamed.body.subject, renamed.body.description], ["Family 2026", "Weekend plans"]);
    const subject = await log.waitFor("group.updated", (p) => p.field === "subject");
    assert.deepEqual([subject.groupJid, subject.value, subject.by, subject.chatId], [g.jid, "Family 2026", ME_JID, g.chatId]);
    const description = await log.waitFor("group.updated", (p) => p.field === "description");
    assert.equal(description.value, "Weekend plans");
    await log.waitFor("chat.updated", (p) => p.chat.id === g.chatId && p.chat.name === "Family 2026");
    const chats = (await api("GET", `/api/v1/sessions/${id}/chats`)).body;
    assert.equal(chats.find((c) => c.id === g.chatId).name, "Family 2026");

    const cleared = await api("PATCH", `/api/v1/sessions/${id}/groups/${g.jid}`, { description: null });
    assert.equal(cleared.body.description, null);
    const gone = await log.waitFor("group.updated", (p) => p.field === "description" && p.value === null);
    assert.equal(gone.groupJid, g.jid);

    // A message to the group goes into the group's chat.
    const sent = await api("POST", `/api/v1/sessions/${id}/messages`, { to: g.jid, text: "Hello all" });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    assert.equal(sent.body.chatId, g.chatId);
  });

  test("members: add, promote, demote, remove, with an answer per member", async () => {
    const id = "g-members";
    const log = await subscribed(id);
    await api("POST", `/api/v1/sim/sessions/${id}/invalid-numbers`, { numbers: ["+628999999999"] });
    const g = (await api("POST", `/api/v1/sessions/${id}/groups`, { subject: "Team", participants: [ANN] })).body;
    const path = `/api/v1/sessions/${id}/groups/${g.jid}/participants`;

    const added = await api("POST", path, { action: "add", participants: [BOB, ANN, "+628999999999"] });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.deepEqual(added.body, [
      { jid: BOB, ok: true, error: null },
      { jid: ANN, ok: false, error: "already a participant" },
      { jid: "628999999999@s.whatsapp.net", ok: false, error: "not on WhatsApp" },
    ]);
    const ev = await log.waitFor("group.participants", (p) => p.action === "add" && p.participants.includes(BOB));
    assert.deepEqual([ev.participants, ev.by], [[BOB], ME_JID], "only the members WhatsApp changed");

    assert.deepEqual((await api("POST", path, { action: "promote", participants: [BOB] })).body, [{ jid: BOB, ok: true, error: null }]);
    await log.waitFor("group.participants", (p) => p.action === "promote");
    let now = (await api("GET", `/api/v1/sessions/${id}/groups/${g.jid}`)).body;
    assert.equal(now.participants.find((p) => p.jid === BOB).role, "admin");

    await api("POST", path, { action: "demote", participants: [BOB] });
    await log.waitFor("group.participants", (p) => p.action === "demote");
    const removed = await api("POST", path, { action: "remove", participants: [ANN, CAT] });
    assert.deepEqual(removed.body, [
      { jid: ANN, ok: true, error: null },
      { jid: CAT, ok: false, error: "not a participant" },
    ]);
    await log.waitFor("group.participants", (p) => p.action === "remove" && p.participants[0] === ANN);
    now = (await api("GET", `/api/v1/sessions/${id}/groups/${g.jid}`)).body;
    assert.deepEqual(now.participants.map((p) => [p.jid, p.role]), [[ME_JID, "superadmin"], [BOB, "member"]]);
  });

  test("invite link: shown to admins, revoking it makes a new code", async () => {
    const id = "g-invite";
    await gw.connectedSession(acme, id, ME);
    const g = (await api("POST", `/api/v1/sessions/${id}/groups`, { subject: "Club" })).body;
    const first = await api("GET", `/api/v1/sessions/${id}/groups/${g.jid}/invite`);
    assert.equal(first.status, 200);
    assert.equal(first.body.groupJid, g.jid);
    assert.match(first.body.code, /^[A-Za-z0-9]{22}$/);
    assert.equal(first.body.url, `https://chat.whatsapp.com/${first.body.code}`);
    assert.deepEqual((await api("GET", `/api/v1/sessions/${id}/groups/${g.jid}/invite`)).body, first.body, "the same until revoked");
    const revoked = await api("DELETE", `/api/v1/sessions/${id}/groups/${g.jid}/invite`);
    assert.equal(revoked.status, 200);
    assert.notEqual(revoked.body.code, first.body.code);
  });
});

describe("groups of other members", () => {
  test("join by invite link, hear what members do, read their messages, leave", async () => {
    const id = "g-join";
    const log = await subscribed(id);
    const made = await api("POST", `/api/v1/sim/sessions/${id}/groups`, { owner: ANN, subject: "Neighbours", participants: [BOB] });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const { groupJid, inviteCode } = made.body;

    assert.equal((await api("GET", `/api/v1/sessions/${id}/groups/${groupJid}`)).body.error.code, "group_not_found", "not a member yet");
    const join = await api("POST", `/api/v1/sessions/${id}/groups/join`, { invite: `https://chat.whatsapp.com/${inviteCode}` });
    assert.equal(join.status, 200, JSON.stringify(join.body));
    assert.deepEqual([join.body.groupJid, join.body.status, join.body.group.subject], [groupJid, "joined", "Neighbours"]);
    const me = await log.waitFor("group.participants", (p) => p.groupJid === groupJid && p.action === "add");
    assert.deepEqual([me.participants, me.by], [[ME_JID], ME_JID]);
    assert.equal(join.body.group.chatId, me.chatId);

    // A member writes in the group: the message is the group's, from that member.
    const inbound = await api("POST", `/api/v1/sim/sessions/${id}/inbound`, { from: BOB, name: "Bob", group: groupJid, text: "Welcome!" });
    assert.equal(inbound.status, 202, JSON.stringify(inbound.body));
    const got = await log.waitFor("message.received", (p) => p.message.content === "Welcome!");
    assert.deepEqual([got.chat.jid, got.chat.isGroup, got.chat.name, got.message.fromJid, got.message.fromName], [groupJid, true, "Neighbours", BOB, "Bob"]);
    assert.equal(got.chat.id, me.chatId);

    // Other members change the group.
    const by = `/api/v1/sim/sessions/${id}/groups/${groupJid}`;
    assert.equal((await api("POST", `${by}/participants`, { by: ANN, action: "add", participants: [CAT] })).status, 204);
    const added = await log.waitFor("group.participants", (p) => p.participants.includes(CAT));
    assert.deepEqual([added.action, added.by], ["add", ANN]);
    assert.equal((await api("POST", `${by}/participants`, { by: ANN, action: "promote", participants: [ME_JID] })).status, 204);
    const promoted = await log.waitFor("group.participants", (p) => p.action === "promote");
    assert.deepEqual(promoted.participants, [ME_JID]);
    assert.equal((await api("POST", `${by}/settings`, { by: BOB, subject: "Street 12", description: "Be nice" })).status, 204);
    const sub = await log.waitFor("group.updated", (p) => p.field === "subject" && p.value === "Street 12");
    assert.equal(sub.by, BOB);
    await log.waitFor("group.updated", (p) => p.field === "description" && p.value === "Be nice");
    await log.waitFor("chat.updated", (p) => p.chat.jid === groupJid && p.chat.name === "Street 12");
    assert.equal((await api("POST", `${by}/participants`, { by: BOB, action: "remove", participants: [BOB] })).status, 204, "a member leaves by itself");
    const left = await log.waitFor("group.participants", (p) => p.action === "remove" && p.by === BOB);
    assert.deepEqual(left.participants, [BOB]);

    const info = (await api("GET", `/api/v1/sessions/${id}/groups/${groupJid}`)).body;
    assert.deepEqual(
      info.participants.map((p) => [p.jid, p.role]),
      [[ANN, "superadmin"], [ME_JID, "admin"], [CAT, "member"]],
    );

    const leave = await api("POST", `/api/v1/sessions/${id}/groups/${groupJid}/leave`);
    assert.equal(leave.status, 204);
    const gone = await log.waitFor("group.participants", (p) => p.action === "remove" && p.participants[0] === ME_JID);
    assert.equal(gone.by, ME_JID);
    assert.equal((await api("GET", `/api/v1/sessions/${id}/groups/${groupJid}`)).status, 404);
    assert.deepEqual((await api("GET", `/api/v1/sessions/${id}/groups`)).body, []);
    const history = (await api("GET", `/api/v1/sessions/${id}/chats/${me.chatId}/messages`)).body;
    assert.ok(history.some((m) => m.content === "Welcome!"), "the chat and its history stay");
  });

  test("a group whose admins approve members answers pending and changes nothing", async () => {
    const id = "g-pending";
    const log = await subscribed(id);
    const { groupJid, inviteCode } = (await api("POST", `/api/v1/sim/sessions/${id}/groups`, { owner: ANN, subject: "Closed", approval: true })).body;
    const join = await api("POST", `/api/v1/sessions/${id}/groups/join`, { invite: inviteCode });
    assert.equal(join.status, 200, JSON.stringify(join.body));
    assert.deepEqual(join.body, { groupJid, status: "pending", group: null });
    assert.equal((await api("GET", `/api/v1/sessions/${id}/groups/${groupJid}`)).status, 404);
    assert.equal(log.filter((e) => e.name === "group.participants").length, 0);
  });

  test("a member cannot run a group it does not administer", async () => {
    const id = "g-member-only";
    await gw.connectedSession(acme, id, ME);
    const { groupJid, inviteCode } = (await api("POST", `/api/v1/sim/sessions/${id}/groups`, { owner: ANN, subject: "Theirs", participants: [BOB] })).body;
    await api("POST", `/api/v1/sessions/${id}/groups/join`, { invite: inviteCode });
    for (const [method, path, body] of [
      ["POST", `/groups/${groupJid}/participants`, { action: "remove", participants: [BOB] }],
      ["GET", `/groups/${groupJid}/invite`],
      ["DELETE", `/groups/${groupJid}/invite`],
    ]) {
      const r = await api(method, `/api/v1/sessions/${id}${path}`, body);
      assert.equal(r.status, 403, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, "not_group_admin");
    }
    const info = (await api("GET", `/api/v1/sessions/${id}/groups/${groupJid}`)).body;
    assert.ok(info.participants.some((p) => p.jid === BOB), "nothing was changed");
    // An unlocked group takes a new subject from any member.
    assert.equal((await api("PATCH", `/api/v1/sessions/${id}/groups/${groupJid}`, { subject: "Ours too" })).status, 200);
  });
});

describe("bad group requests", () => {
  test("each gets a precise error and changes nothing", async () => {
    const id = "g-bad";
    await gw.connectedSession(acme, id, ME);
    const g = (await api("POST", `/api/v1/sessions/${id}/groups`, { subject: "Fine" })).body;
    const cases = [
      ["POST", "/groups", { subject: "" }, 422, "invalid_subject"],
      ["POST", "/groups", { subject: "x".repeat(101) }, 422, "invalid_subject"],
      ["POST", "/groups", { subject: "ok", participants: ["not a number"] }, 422, "invalid_participants"],
      ["POST", "/groups", { subject: "ok", participants: Array(1025).fill("+628111111111") }, 422, "invalid_participants"],
      ["POST", "/groups", { subject: "ok", extra: 1 }, 422, "invalid_body"],
      ["GET", "/groups/not-a-group", undefined, 422, "invalid_group"],
      ["GET", `/groups/${ANN}`, undefined, 422, "invalid_group"],
      ["GET", "/groups/120363000000000009@g.us", undefined, 404, "group_not_found"],
      ["PATCH", `/groups/${g.jid}`, {}, 422, "nothing_to_change"],
      ["PATCH", `/groups/${g.jid}`, { description: "d".repeat(2049) }, 422, "invalid_description"],
      ["POST", `/groups/${g.jid}/participants`, { action: "kick", participants: [ANN] }, 422, "invalid_body"],
      ["POST", `/groups/${g.jid}/participants`, { action: "add", participants: [] }, 422, "invalid_participants"],
      ["POST", "/groups/120363000000000009@g.us/participants", { action: "add", participants: [ANN] }, 404, "group_not_found"],
      ["POST", "/groups/120363000000000009@g.us/leave", undefined, 404, "group_not_found"],
      ["POST", "/groups/join", { invite: "https://evil.example/x?y=1" }, 422, "invalid_invite"],
      ["POST", "/groups/join", { invite: "NoSuchCode123" }, 502, "whatsapp_refused"],
    ];
    for (const [method, path, body, status, code] of cases) {
      const r = await api(method, `/api/v1/sessions/${id}${path}`, body);
      assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, code, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(typeof r.body.error.message, "string");
    }
    const now = (await api("GET", `/api/v1/sessions/${id}/groups`)).body;
    assert.deepEqual(now.map((x) => [x.subject, x.description]), [["Fine", null]]);

    // The phone side refuses what WhatsApp would not let a member do.
    const by = `/api/v1/sim/sessions/${id}/groups/${g.jid}`;
    assert.equal((await api("POST", `${by}/participants`, { by: CAT, action: "add", participants: [BOB] })).status, 422, "not a member");
    assert.equal((await api("POST", `/api/v1/sim/sessions/${id}/inbound`, { from: CAT, group: g.jid, text: "hi" })).status, 422, "not a member");
  });

  test("a disconnected session answers 409; another tenant's key and a user without the session are refused", async () => {
    const id = "g-offline";
    await gw.connectedSession(acme, id, ME);
    const g = (await api("POST", `/api/v1/sessions/${id}/groups`, { subject: "Later" })).body;
    await api("POST", `/api/v1/sessions/${id}/disconnect`);
    for (const [method, path, body] of [
      ["GET", "/groups"],
      ["POST", "/groups", { subject: "x" }],
      ["GET", `/groups/${g.jid}`],
      ["POST", "/groups/join", { invite: "AbCdEf" }],
    ]) {
      const r = await api(method, `/api/v1/sessions/${id}${path}`, body);
      assert.equal(r.status, 409, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, "session_not_connected");
    }
    const other = await gw.tenant("other-groups");
    const r = await api("GET", `/api/v1/sessions/${id}/groups`, undefined, other.apiKey);
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, "session_not_found");
    await api("PATCH", "/api/v1/tenant", { sessionAccess: "owned" });
    const user = await gw.token(acme, "stranger");
    const u = await gw.api("GET", `/api/v1/sessions/${id}/groups`, user);
    assert.equal(u.status, 404, JSON.stringify(u.body));
    await api("PATCH", "/api/v1/tenant", { sessionAccess: "all" });
  });
});
