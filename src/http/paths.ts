// Route prefixes shared by routers and helpers (kept apart so helpers such as
// respond.ts need not import a router).
export const MONITOR_PREFIX = '/api/v0/mcp/monitor/webrtc';
