/** One measured community size for the traffic plot. */
export interface ScalePoint {
  peers: number
  /** Control messages per second on the wire, whole community. */
  totalMsgsPerSec: number
  /** Mean per peer (sent + received). */
  perPeerMsgsPerSec: number
  /** Mean per super-peer (sent + received). */
  perSuperPeerMsgsPerSec: number
}

const W = 640
const H = 360
const M = { l: 70, r: 150, t: 30, b: 50 }

/**
 * A small, dependency-free SVG line chart: total control messages/s against peers (left
 * axis), and per-peer and per-super-peer rates (right axis). A straight total line through
 * the origin and flat per-node lines are what O(N) traffic looks like.
 */
export function trafficSvg (points: readonly ScalePoint[], title: string): string {
  const pts = [...points].sort((a, b) => a.peers - b.peers)
  const xMax = niceMax(Math.max(1, ...pts.map((p) => p.peers)))
  const yMax = niceMax(Math.max(1, ...pts.map((p) => p.totalMsgsPerSec)))
  const y2Max = niceMax(Math.max(1, ...pts.map((p) => Math.max(p.perPeerMsgsPerSec, p.perSuperPeerMsgsPerSec))))
  const pw = W - M.l - M.r
  const ph = H - M.t - M.b
  const x = (v: number): number => M.l + (v / xMax) * pw
  const y = (v: number): number => M.t + ph - (v / yMax) * ph
  const y2 = (v: number): number => M.t + ph - (v / y2Max) * ph
  const line = (f: (p: ScalePoint) => number, sy: (v: number) => number): string => pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.peers).toFixed(1)},${sy(f(p)).toFixed(1)}`).join(' ')
  const dots = (f: (p: ScalePoint) => number, sy: (v: number) => number, color: string): string => pts.map((p) => `<circle cx="${x(p.peers).toFixed(1)}" cy="${sy(f(p)).toFixed(1)}" r="3" fill="${color}"/>`).join('')
  const ticks = [0, 0.25, 0.5, 0.75, 1]
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${M.l}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${M.l}" y1="${M.t + ph}" x2="${M.l + pw}" y2="${M.t + ph}" stroke="#333"/>`,
    `<line x1="${M.l}" y1="${M.t}" x2="${M.l}" y2="${M.t + ph}" stroke="#333"/>`,
    `<line x1="${M.l + pw}" y1="${M.t}" x2="${M.l + pw}" y2="${M.t + ph}" stroke="#333"/>`
  ]
  for (const f of ticks) {
    out.push(`<text x="${x(f * xMax).toFixed(1)}" y="${M.t + ph + 16}" text-anchor="middle">${fmt(f * xMax)}</text>`)
    out.push(`<text x="${M.l - 6}" y="${(y(f * yMax) + 4).toFixed(1)}" text-anchor="end">${fmt(f * yMax)}</text>`)
    out.push(`<text x="${M.l + pw + 6}" y="${(y2(f * y2Max) + 4).toFixed(1)}">${fmt(f * y2Max)}</text>`)
    if (f > 0) out.push(`<line x1="${M.l}" y1="${y(f * yMax).toFixed(1)}" x2="${M.l + pw}" y2="${y(f * yMax).toFixed(1)}" stroke="#eee"/>`)
  }
  out.push(`<text x="${M.l + pw / 2}" y="${H - 10}" text-anchor="middle">peers</text>`)
  out.push(`<text transform="translate(16 ${M.t + ph / 2}) rotate(-90)" text-anchor="middle">total control msgs/s</text>`)
  out.push(`<text transform="translate(${M.l + pw + 42} ${M.t + ph / 2}) rotate(90)" text-anchor="middle">msgs/s per node</text>`)
  const series: Array<[string, string, (p: ScalePoint) => number, (v: number) => number]> = [
    ['total (left)', '#1f77b4', (p) => p.totalMsgsPerSec, y],
    ['per peer (right)', '#2ca02c', (p) => p.perPeerMsgsPerSec, y2],
    ['per super-peer (right)', '#d62728', (p) => p.perSuperPeerMsgsPerSec, y2]
  ]
  series.forEach(([name, color, f, sy], i) => {
    out.push(`<path d="${line(f, sy)}" fill="none" stroke="${color}" stroke-width="2"/>`, dots(f, sy, color))
    const ly = M.t + 10 + i * 16
    out.push(`<line x1="${M.l + pw + 70}" y1="${ly}" x2="${M.l + pw + 84}" y2="${ly}" stroke="${color}" stroke-width="2"/>`)
    out.push(`<text x="${M.l + pw + 88}" y="${ly + 4}">${esc(name.split(' (')[0]!)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

function niceMax (v: number): number {
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p
  return 10 * p
}

function fmt (v: number): string {
  if (v >= 1000) return `${Number((v / 1000).toFixed(1))}k`
  return Number(v.toFixed(1)).toString()
}

function esc (s: string): string { return s.replace(/&/g, '&amp;').replace(/</g, '&lt;') }
