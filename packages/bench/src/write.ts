import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { RowResult } from './types.js'
import { renderJson, type RunMeta } from './report/json.js'
import { renderMarkdown } from './report/markdown.js'
import { renderSvg } from './report/svg.js'

export interface Written { json: string, markdown: string, svg: string }

/** Writes results.json, results.md and results.svg into `outDir` (created, and git-ignored by its own .gitignore). */
export async function writeReports (outDir: string, rows: RowResult[], meta: RunMeta): Promise<Written> {
  await mkdir(outDir, { recursive: true })
  await writeFile(join(outDir, '.gitignore'), '*\n')
  const files = { json: join(outDir, 'results.json'), markdown: join(outDir, 'results.md'), svg: join(outDir, 'results.svg') }
  await writeFile(files.json, renderJson(rows, meta))
  await writeFile(files.markdown, renderMarkdown(rows, meta))
  await writeFile(files.svg, renderSvg(rows))
  return files
}
