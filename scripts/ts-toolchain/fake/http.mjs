import { host, hostError } from "./host.mjs";
export function send(request) {
  host.httpRequests.push(request);
  const answer = host.httpAnswers.shift();
  if (!answer) throw hostError("failed", "the fake host has no answer queued");
  if (answer.error) throw hostError(answer.error.tag, answer.error.val);
  return { status: answer.status ?? 200, headers: answer.headers ?? [], body: answer.body ?? new Uint8Array() };
}
