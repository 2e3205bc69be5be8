// "wagate:testing": the fake host a TypeScript plugin's tests run against (fake/host.mjs).
declare module "wagate:testing" {
  export const host: {
    nowMs: bigint;
    kv: Map<string, string>;
    sessions: unknown[];
    chats: Record<string, unknown[]>;
    history: Record<string, unknown[]>;
    mediaLinks: Record<string, string>;
    logs: Array<[string, string]>;
    queued: Array<[string, unknown]>;
    httpAnswers: Array<{ status?: number; headers?: Array<[string, string]>; body?: Uint8Array; error?: { tag: string; val?: string } }>;
    httpRequests: unknown[];
  };
  /** Empties the host between tests. */
  export function reset(): void;
}
