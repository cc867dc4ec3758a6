// The part of sax's API envelope.ts uses (sax ships no types).
declare module 'sax' {
  interface SaxParser {
    onerror: (e: Error) => void
    onopentag: (tag: { name: string, local?: string }) => void
    ontext: (t: string) => void
    oncdata: (t: string) => void
    onclosetag: (name: string) => void
    error: Error
    write: (s: string) => SaxParser
    close: () => SaxParser
  }
  const sax: { parser: (strict: boolean, opts?: Record<string, unknown>) => SaxParser }
  export default sax
}
