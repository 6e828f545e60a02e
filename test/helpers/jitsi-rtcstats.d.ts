// @jitsi/rtcstats ships JavaScript without types; the tests use its transport.
declare module '@jitsi/rtcstats/trace-ws.js' {
  const traceWs: (options: unknown) => unknown;
  export default traceWs;
}
