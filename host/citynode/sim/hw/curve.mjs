// Time curves: how a scenario says what a quantity does over (virtual) time.
// A curve spec is a number (constant), a list of [t, value] points, or an object
// {value | points, interp, repeat, daily, noise, noise_period, min, max} (see scenarios/README.md).
import { gauss, strHash } from "./rng.mjs";

const UNITS = { d: 86400, h: 3600, m: 60, s: 1, ms: 0.001 };

/** Seconds from a number (already seconds) or a string like "2d", "1h30m", "90s", "250ms". */
export function parseDuration(x, what = "duration") {
  if (typeof x === "number" && Number.isFinite(x)) return x;
  if (typeof x !== "string") throw new Error(`${what}: expected seconds or a string like "1h30m", got ${JSON.stringify(x)}`);
  const re = /(-?\d+(?:\.\d+)?)\s*(ms|d|h|m|s)/gy;
  let total = 0;
  let matched = 0;
  const s = x.trim();
  let m;
  while ((m = re.exec(s)) !== null) {
    total += parseFloat(m[1]) * UNITS[m[2]];
    matched = re.lastIndex;
  }
  if (matched !== s.length || s.length === 0) throw new Error(`${what}: cannot read ${JSON.stringify(x)} (use e.g. "1d6h", "30m", "90s")`);
  return total;
}

function interpolate(points, t, step) {
  const n = points.length;
  if (t <= points[0][0]) return points[0][1];
  if (t >= points[n - 1][0]) return points[n - 1][1];
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (points[mid][0] <= t) lo = mid;
    else hi = mid;
  }
  const [t0, v0] = points[lo];
  const [t1, v1] = points[hi];
  if (step || t1 === t0) return v0;
  return v0 + ((v1 - v0) * (t - t0)) / (t1 - t0);
}

/**
 * Build f(tS) -> value from a spec.
 * opts: {seed, key (string naming the quantity, for independent noise), startS (time of day at t=0, s)}
 */
export function makeCurve(spec, opts = {}) {
  const seed = opts.seed ?? 0;
  const key = strHash(opts.key ?? "curve");
  const startS = opts.startS ?? 0;
  if (spec === undefined || spec === null) return null;
  if (typeof spec === "number") return () => spec;
  if (Array.isArray(spec)) spec = { points: spec };
  if (typeof spec !== "object") throw new Error(`${opts.key}: a curve is a number, a list of [t, value] points or an object`);
  let points = null;
  if (spec.points) {
    if (!Array.isArray(spec.points) || spec.points.length === 0) throw new Error(`${opts.key}: points must be a non-empty list of [t, value]`);
    points = spec.points.map((p, i) => {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[1] !== "number") throw new Error(`${opts.key}: point ${i} must be [t, value]`);
      return [parseDuration(p[0], `${opts.key} point ${i}`), p[1]];
    });
    for (let i = 1; i < points.length; i++) {
      if (points[i][0] < points[i - 1][0]) throw new Error(`${opts.key}: points must be in time order`);
    }
  }
  const base = spec.value ?? 0;
  const step = spec.interp === "step";
  const repeat = spec.repeat !== undefined ? parseDuration(spec.repeat, `${opts.key} repeat`) : 0;
  const daily = spec.daily ?? null;
  const dailyAmp = daily ? daily.amplitude ?? 0 : 0;
  const peakS = daily ? (daily.peak_hour ?? 14) * 3600 : 0;
  const noise = spec.noise ?? 0;
  const noisePeriod = spec.noise_period !== undefined ? parseDuration(spec.noise_period, `${opts.key} noise_period`) : 1;
  const min = spec.min ?? -Infinity;
  const max = spec.max ?? Infinity;
  return (t) => {
    let v = base;
    if (points) {
      let tt = t;
      if (repeat > 0) tt = points[0][0] + ((((t - points[0][0]) % repeat) + repeat) % repeat);
      v = interpolate(points, tt, step);
    }
    if (dailyAmp) v += dailyAmp * Math.cos((2 * Math.PI * (startS + t - peakS)) / 86400);
    if (noise) v += noise * gauss(seed, key, Math.floor(t / noisePeriod));
    return Math.min(max, Math.max(min, v));
  };
}
