/** A stand-in for uPlot (jsdom has no canvas): records each chart's options and data. */
export const charts: Array<{ opts: any; data: any; destroyed: boolean }> = [];

export default class FakeUPlot {
  static join(tables: any[]) {
    const xs = [...new Set(tables.flatMap(t => t[0]))].sort((a: number, b: number) => a - b);
    return [xs, ...tables.map(t => xs.map(x => { const i = t[0].indexOf(x); return i < 0 ? null : t[1][i]; }))];
  }
  select = { left: 0, width: 0 };
  entry: { opts: any; data: any; destroyed: boolean };
  constructor(opts: any, data: any) {
    this.entry = { opts, data, destroyed: false };
    charts.push(this.entry);
    (this.entry as any).plot = this;
  }
  posToVal(pos: number) {
    return pos;
  }
  setSize() {}
  destroy() {
    this.entry.destroyed = true;
  }
}

/** Simulate dragging across a chart from step `from` to step `to`. */
export function dragSelect(entry: { opts: any }, from: number, to: number) {
  const plot = (entry as any).plot as FakeUPlot;
  plot.select = { left: from, width: to - from };
  for (const hook of entry.opts.hooks?.setSelect ?? []) hook(plot);
}
