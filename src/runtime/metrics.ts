/**
 * Metrics of one process in the Prometheus text exposition format (version 0.0.4): counters
 * (every `ctx.count` of a protocol core, and the driver's and transport's own), gauges set by
 * the host (view, stable checkpoint...) and latency histograms with fixed buckets. Names are
 * sanitised to Prometheus rules: `pbft.bad-request-mac` is exported as
 * `phalanx_pbft_bad_request_mac_total`.
 */

const latencyBucketsMs = [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

function metricName(name: string): string {
  return `phalanx_${name.replace(/[^a-zA-Z0-9_]/g, "_")}`;
}

export class Histogram {
  readonly counts = new Array<number>(latencyBucketsMs.length).fill(0);
  count = 0;
  sum = 0;

  observe(ms: number): void {
    this.count++;
    this.sum += ms;
    for (let i = 0; i < latencyBucketsMs.length; i++) {
      if (ms <= (latencyBucketsMs[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        return;
      }
    }
  }
}

export class Metrics {
  private readonly counters = new Map<string, number>();
  private readonly gauges = new Map<string, () => number>();
  private readonly histograms = new Map<string, Histogram>();

  count(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  counter(name: string): number {
    return this.counters.get(name) ?? 0;
  }

  /** A gauge read at scrape time. */
  gauge(name: string, read: () => number): void {
    this.gauges.set(name, read);
  }

  histogram(name: string): Histogram {
    let h = this.histograms.get(name);
    if (h === undefined) {
      h = new Histogram();
      this.histograms.set(name, h);
    }
    return h;
  }

  /** Every counter, by its original name (for status output and tests). */
  counters_(): Record<string, number> {
    return Object.fromEntries([...this.counters].sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, v] of [...this.counters].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const m = `${metricName(name)}_total`;
      lines.push(`# TYPE ${m} counter`, `${m} ${v}`);
    }
    for (const [name, read] of [...this.gauges].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const m = metricName(name);
      lines.push(`# TYPE ${m} gauge`, `${m} ${read()}`);
    }
    for (const [name, h] of [...this.histograms].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const m = `${metricName(name)}_ms`;
      lines.push(`# TYPE ${m} histogram`);
      let cumulative = 0;
      latencyBucketsMs.forEach((le, i) => {
        cumulative += h.counts[i] as number;
        lines.push(`${m}_bucket{le="${le}"} ${cumulative}`);
      });
      lines.push(`${m}_bucket{le="+Inf"} ${h.count}`, `${m}_sum ${h.sum}`, `${m}_count ${h.count}`);
    }
    return `${lines.join("\n")}\n`;
  }
}
