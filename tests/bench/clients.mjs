// One process of the realtime benchmark's clients (forked by realtime.mjs): it connects its
// share of the sockets, then records when each socket got each tagged message. Two kinds:
// "sio" the real socket.io-client v4 (websocket transport), "raw" a light client speaking the
// Engine.IO/Socket.IO wire format over a bare WebSocket, so a busy client does not decide the
// result. Messages in from the parent: {op:"connect", ...}, {op:"report", prefix}, {op:"close"}.
import { io } from "socket.io-client";
import WebSocket from "ws";

const sockets = [];
// tag -> arrival times (ms, performance.timeOrigin-based, comparable across processes)
const arrivals = { "message.received": new Map(), "chat.updated": new Map() };
const now = () => performance.timeOrigin + performance.now();

function seen(name, payload) {
  const per = arrivals[name];
  if (!per) return;
  const text = name === "message.received" ? payload?.message?.content : payload?.chat?.lastMessage;
  if (typeof text !== "string") return;
  let list = per.get(text);
  if (!list) per.set(text, (list = []));
  list.push(now());
}

function sioClient(url, token, subscribe) {
  return new Promise((resolve, reject) => {
    const s = io(url, { transports: ["websocket"], reconnection: false, forceNew: true, auth: token ? { token } : undefined });
    s.on("message.received", (p) => seen("message.received", p));
    s.on("chat.updated", (p) => seen("chat.updated", p));
    s.once("connect_error", reject);
    s.once("connect", () => {
      if (!subscribe) return resolve(s);
      s.emit("session.subscribe", "s1", (ack) => (ack?.ok === false ? reject(new Error(JSON.stringify(ack))) : resolve(s)));
    });
  });
}

function rawClient(url, token, subscribe) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: false });
    ws.on("error", reject);
    ws.on("message", (data) => {
      const m = data.toString();
      if (m[0] === "0") ws.send(`40${JSON.stringify(token ? { token } : {})}`);
      else if (m === "2") ws.send("3");
      else if (m.startsWith("40")) {
        if (!subscribe) return resolve(ws);
        ws.send('421["session.subscribe","s1"]');
      } else if (m.startsWith("431")) resolve(ws);
      else if (m.startsWith("44")) reject(new Error(m));
      else if (m.startsWith("42")) {
        const [name, payload] = JSON.parse(m.slice(2));
        seen(name, payload);
      }
    });
  });
}

async function connect({ url, token, count, kind, subscribe }) {
  const make = kind === "raw" ? rawClient : sioClient;
  // A few hundred handshakes at a time: the servers' accept queues are not what is measured.
  for (let i = 0; i < count; i += 200) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + 200); j++) batch.push(make(url, token, subscribe));
    sockets.push(...(await Promise.all(batch)));
  }
}

process.on("message", async (msg) => {
  try {
    if (msg.op === "connect") {
      await connect(msg);
      process.send({ op: "connected", count: sockets.length });
    } else if (msg.op === "report") {
      // Per tag: how many sockets got it, the last arrival, and (for latency) every arrival.
      const out = {};
      for (const [name, per] of Object.entries(arrivals)) {
        out[name] = {};
        for (const [tag, times] of per) {
          if (!tag.startsWith(msg.prefix)) continue;
          out[name][tag] = msg.all ? times : { n: times.length, last: Math.max(...times) };
          per.delete(tag);
        }
      }
      process.send({ op: "report", out });
    } else if (msg.op === "close") {
      for (const s of sockets) (s.close ?? s.terminate).call(s);
      process.exit(0);
    }
  } catch (e) {
    process.send({ op: "error", message: String(e?.stack ?? e) });
  }
});
