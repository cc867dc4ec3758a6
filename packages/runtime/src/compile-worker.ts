import { parentPort } from 'node:worker_threads'
import ts from 'typescript'

/**
 * Runs the TypeScript compiler off the node's main thread: loading `typescript` and
 * transpiling take long enough to stall heartbeats and control replies if done inline.
 */
export interface CompileRequest { id: number, source: string, fileName: string }
export interface CompileIssue { line: number, column: number, message: string }
export interface CompileReply { id: number, outputText?: string, issues?: CompileIssue[], error?: string }

parentPort?.on('message', (req: CompileRequest) => {
  try {
    const out = ts.transpileModule(req.source, {
      fileName: req.fileName,
      reportDiagnostics: true,
      // the inline map lets a rank name the .ts line a program threw at (program-error.ts)
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false, inlineSourceMap: true, inlineSources: false, allowJs: true }
    })
    const issues = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error).map((d) => {
      const message = ts.flattenDiagnosticMessageText(d.messageText, '\n')
      if (d.file === undefined || d.start === undefined) return { line: 0, column: 0, message }
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start)
      return { line: line + 1, column: character + 1, message }
    })
    parentPort!.postMessage({ id: req.id, outputText: out.outputText, issues } satisfies CompileReply)
  } catch (err) {
    parentPort!.postMessage({ id: req.id, error: (err as Error).message } satisfies CompileReply)
  }
})
