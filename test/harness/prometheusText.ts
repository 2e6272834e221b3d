// A strict reader of Prometheus' text exposition format, for tests of both services' /metrics.
import assert from "node:assert/strict";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The text exposition format, strictly: every sample belongs to a family declared by # TYPE. */
export function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = line.match(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const sample = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/);
    assert.ok(sample, `not a Prometheus line: ${line}`);
    const labels: Record<string, string> = {};
    const labelText = sample[2] ?? "";
    const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/g;
    let consumed = 0;
    for (const m of labelText.matchAll(labelPattern)) {
      labels[m[1]!] = m[2]!.replace(/\\n/g, "\n").replace(/\\(.)/g, "$1");
      consumed += m[0].length;
    }
    assert.equal(consumed, labelText.length, `labels of ${line}`);
    const value = Number(sample[3]!.replace(/^\+Inf$/, "Infinity").replace(/^-Inf$/, "-Infinity"));
    // Prometheus reads floats with Go's ParseFloat, which takes NaN in any case; prom-client writes
    // "Nan" for a figure with no sample yet (the event-loop lag in a process' first milliseconds).
    assert.ok(!Number.isNaN(value) || /^nan$/i.test(sample[3]!), `value of ${line}`);
    const family = sample[1]!.replace(/_(bucket|sum|count)$/, "");
    assert.ok(types.has(sample[1]!) || types.has(family), `${sample[1]} has a # TYPE`);
    samples.push({ name: sample[1]!, labels, value });
  }
  return { types, samples };
}
