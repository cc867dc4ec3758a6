import { randomBytes } from 'node:crypto'

/**
 * `j-<time36>-<rand>`: the time part is fixed-width so ids sort by creation time as strings;
 * 40 random bits make collisions within one millisecond vanishingly rare (the store's primary
 * key catches the rest).
 */
export function newJobId (now: number): string {
  const time = Math.max(0, Math.floor(now)).toString(36).padStart(9, '0')
  const rand = randomBytes(5).readUIntBE(0, 5).toString(36).padStart(8, '0')
  return `j-${time}-${rand}`
}
