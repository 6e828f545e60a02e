// Process resources without blocking the loop: counters Node keeps anyway
// (cpuUsage, memoryUsage, the event-loop delay histogram), read in O(1).
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** The histogram samples with a timer of this period and records the whole period; we report the excess. */
const RESOLUTION_MS = 10;

export class ResourceMonitor {
  private readonly loopDelay: IntervalHistogram;
  private last = { cpu: process.cpuUsage(), at: performance.now() };

  constructor() {
    this.loopDelay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.loopDelay.enable();
  }

  /** CPU is measured since the previous call (or start); the loop-delay window likewise. */
  read() {
    const now = performance.now();
    const cpu = process.cpuUsage(this.last.cpu);
    const elapsedMs = Math.max(1, now - this.last.at);
    this.last = { cpu: process.cpuUsage(), at: now };
    const mem = process.memoryUsage();
    const sampled = this.loopDelay.count > 0;
    const ms = (ns: number) => (sampled ? Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 100) / 100) : 0);
    const delay = {
      min_ms: ms(this.loopDelay.min),
      mean_ms: ms(this.loopDelay.mean || 0),
      p50_ms: ms(this.loopDelay.percentile(50)),
      p99_ms: ms(this.loopDelay.percentile(99)),
      max_ms: ms(this.loopDelay.max),
      samples: this.loopDelay.count,
      window_ms: Math.round(elapsedMs),
    };
    this.loopDelay.reset();
    const resources = process.getActiveResourcesInfo();
    return {
      cpu: {
        percent: Math.round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 1000) / 10,
        user_ms: Math.round(cpu.user / 1000),
        system_ms: Math.round(cpu.system / 1000),
        window_ms: Math.round(elapsedMs),
      },
      memory: {
        rss_bytes: mem.rss,
        heap_used_bytes: mem.heapUsed,
        heap_total_bytes: mem.heapTotal,
        external_bytes: mem.external,
        array_buffers_bytes: mem.arrayBuffers,
      },
      event_loop_delay: delay,
      handles: {
        udp_sockets: resources.filter((r) => r === 'UDPWrap').length,
        timers: resources.filter((r) => r === 'Timeout').length,
        total: resources.length,
      },
    };
  }

  stop() {
    this.loopDelay.disable();
  }
}
