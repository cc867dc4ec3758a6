import { textBox } from './svg-kit.js'
import type { Box, LabelClass, Point } from './svg-kit.js'

/** Space kept between a label and anything it sits beside. */
export const GAP = 3

export interface Placed { at: Point, box: Box }

/**
 * Puts labels where nothing else is: every node box, every placed label and every edge
 * segment is an obstacle, and a label takes the first of its candidate spots that touches
 * none (or, when all touch something, the one touching least). Candidates are ordered by how
 * well they read, so a crowded picture degrades to "nearly right" rather than to overlaps.
 */
export class LabelPlacer {
  private readonly boxes: Box[] = []
  private readonly circles: Array<{ c: Point, r: number }> = []
  private readonly segments: Array<[Point, Point]> = []

  addBox (box: Box): void { this.boxes.push(box) }

  addCircle (c: Point, r: number): void { this.circles.push({ c, r }) }

  addPolyline (points: Point[]): void {
    for (let i = 1; i < points.length; i++) this.segments.push([points[i - 1] as Point, points[i] as Point])
  }

  place (s: string, cls: LabelClass, candidates: Point[]): Placed {
    let best: Placed | undefined
    let bestCost = Infinity
    for (const at of candidates) {
      const box = textBox(at, s, cls)
      const cost = this.cost(box)
      if (cost < bestCost) {
        best = { at, box }
        bestCost = cost
        if (cost === 0) break
      }
    }
    const chosen = best ?? { at: { x: 0, y: 0 }, box: textBox({ x: 0, y: 0 }, s, cls) }
    this.boxes.push(chosen.box)
    return chosen
  }

  private cost (box: Box): number {
    const grown = grow(box, GAP - 1)
    let n = 0
    for (const b of this.boxes) if (overlaps(grown, b)) n++
    for (const { c, r } of this.circles) if (circleHitsBox(c, r, grown)) n++
    for (const [a, b] of this.segments) if (segmentHitsBox(a, b, grown)) n++
    return n
  }
}

export function grow (b: Box, d: number): Box {
  return { minX: b.minX - d, minY: b.minY - d, maxX: b.maxX + d, maxY: b.maxY + d }
}

export function overlaps (a: Box, b: Box): boolean {
  return a.minX < b.maxX && b.minX < a.maxX && a.minY < b.maxY && b.minY < a.maxY
}

export function circleHitsBox (c: Point, r: number, b: Box): boolean {
  const x = Math.max(b.minX, Math.min(c.x, b.maxX))
  const y = Math.max(b.minY, Math.min(c.y, b.maxY))
  return Math.hypot(x - c.x, y - c.y) < r
}

/** Liang–Barsky clipping: does any part of segment a→b lie inside the box? */
export function segmentHitsBox (a: Point, b: Point, box: Box): boolean {
  const dx = b.x - a.x
  const dy = b.y - a.y
  let t0 = 0
  let t1 = 1
  const tests: Array<[number, number]> = [[-dx, a.x - box.minX], [dx, box.maxX - a.x], [-dy, a.y - box.minY], [dy, box.maxY - a.y]]
  for (const [p, q] of tests) {
    if (p === 0) {
      if (q < 0) return false
      continue
    }
    const r = q / p
    if (p < 0) {
      if (r > t1) return false
      if (r > t0) t0 = r
    } else {
      if (r < t0) return false
      if (r < t1) t1 = r
    }
  }
  return t0 < t1
}

export function unit (v: Point): Point {
  const len = Math.hypot(v.x, v.y) || 1
  return { x: v.x / len, y: v.y / len }
}

/** How far a centred box of this size reaches out in direction `u` (a unit vector). */
function reach (u: Point, s: string, cls: LabelClass): number {
  const b = textBox({ x: 0, y: 0 }, s, cls)
  return Math.abs(u.x) * (b.maxX - b.minX) / 2 + Math.abs(u.y) * (b.maxY - b.minY) / 2
}

/**
 * Centres for a label just outside a round node of radius `r`, one per direction: the box's
 * nearest corner or side touches the circle of radius r + GAP in that direction.
 */
export function besideNode (p: Point, r: number, s: string, cls: LabelClass, dirs: Point[]): Point[] {
  const b = textBox({ x: 0, y: 0 }, s, cls)
  const hw = (b.maxX - b.minX) / 2
  const hh = (b.maxY - b.minY) / 2
  return dirs.map(unit).map((u) => {
    const sx = Math.abs(u.x) < 0.2 ? 0 : Math.sign(u.x)
    const sy = Math.abs(u.y) < 0.2 ? 0 : Math.sign(u.y)
    return { x: p.x + u.x * (r + GAP) + sx * hw, y: p.y + u.y * (r + GAP) + sy * hh }
  })
}

/** A centre beside the line through `q` with direction `dir`, on the side of normal `n`. */
export function besideLine (q: Point, dir: Point, side: 1 | -1, s: string, cls: LabelClass, extra = 0): Point {
  const u = unit(dir)
  const n = { x: -u.y * side, y: u.x * side }
  const d = GAP + extra + reach(n, s, cls)
  return { x: q.x + n.x * d, y: q.y + n.y * d }
}

/** A centre past the end of a line running in direction `dir`. */
export function beyond (end: Point, dir: Point, s: string, cls: LabelClass): Point {
  const u = unit(dir)
  const d = GAP + reach(u, s, cls)
  return { x: end.x + u.x * d, y: end.y + u.y * d }
}

/** The eight compass directions, starting from `first` and alternating around it. */
export function compass (first: 'ne' | 'nw' = 'ne'): Point[] {
  const ne = [{ x: 1, y: -1 }, { x: -1, y: -1 }, { x: 1, y: 1 }, { x: -1, y: 1 }, { x: 1, y: 0 }, { x: -1, y: 0 }, { x: 0, y: -1 }, { x: 0, y: 1 }]
  return first === 'ne' ? ne : ne.map((d) => ({ x: -d.x, y: d.y }))
}
