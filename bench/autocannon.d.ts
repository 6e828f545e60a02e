// The few parts of autocannon 8 the REST benchmark uses (it ships no types).
declare module 'autocannon' {
  type Options = { url: string; connections?: number; duration?: number; pipelining?: number; amount?: number };
  type Histogram = { average: number; mean: number; p50: number; p99: number; max: number };
  type Result = { requests: Histogram; latency: Histogram; non2xx: number; errors: number; timeouts: number; '2xx': number };
  function autocannon(options: Options): Promise<Result>;
  export default autocannon;
}
