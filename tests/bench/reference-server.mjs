// The Node reference the realtime benchmark compares wagate with: a plain socket.io 4.8
// server whose clients join one room on connect, and an HTTP POST that makes it emit the same
// two events wagate emits for an inbound message (`message.received`, `chat.updated`), built
// from payloads wagate produced, so both servers send frames of the same size.
// Usage: node reference-server.mjs TEMPLATE.json   (prints "listening <url>")
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { Server } from "socket.io";

const [received, chat] = JSON.parse(readFileSync(process.argv[2], "utf8"));
let seq = 0;

const http = createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/emit") {
    res.writeHead(404).end();
    return;
  }
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    const { text } = JSON.parse(body);
    const at = new Date().toISOString();
    seq += 1;
    const message = { ...received.message, content: text, timestamp: at };
    const updated = { ...chat.chat, lastMessage: text, lastMessageAt: at };
    io.to("s1").emit("message.received", { ...received, seq, timestamp: at, message, chat: updated });
    seq += 1;
    io.to("s1").emit("chat.updated", { ...chat, seq, timestamp: at, chat: updated });
    res.writeHead(202, { "content-type": "application/json" }).end('{"ok":true}');
  });
});
const io = new Server(http, { transports: ["websocket", "polling"] });
io.on("connection", (socket) => socket.join("s1"));
http.listen(0, "127.0.0.1", () => console.log(`listening http://127.0.0.1:${http.address().port}`));
