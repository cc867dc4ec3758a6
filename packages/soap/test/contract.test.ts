import t from 'tap'
import { JobState } from '@mvm/core'
import { wsdlFile, wsdlText } from '@mvm/soap'
import { operations, type Field } from '../src/shapes.js'

/** Element names of a named complexType (or an element's anonymous type), in order (up to its sequence's end: elements may carry annotations). */
function sequence (wsdl: string, typeName: string): string[] {
  const block = new RegExp(`<xs:(?:complexType|element) name="${typeName}"[^/]*?>([\\s\\S]*?)</xs:sequence>`).exec(wsdl)?.[1] ?? ''
  return [...block.matchAll(/<xs:element name="(\w+)"/g)].map((m) => m[1]!)
}

t.test('each WSDL declares every operation with request/response elements', async (t) => {
  const ops = {
    Bootstrap: ['GetBrokers', 'RegisterSuperPeer', 'GetResources'],
    Node: ['GetStatus', 'Awaken', 'Terminate', 'ListProcesses', 'GetLogs'],
    Broker: ['ListNodes', 'GetNode', 'SubmitJob', 'GetJob', 'ListJobs', 'ReleaseJob', 'HoldJob', 'CheckpointJob', 'ResizeJob', 'RequeueJob', 'ListHistory', 'CancelJob', 'GetJobResult', 'ApplyPolicy', 'GetPolicy', 'GetJobLogs', 'SubmitJobs', 'WaitJob', 'WaitJobs', 'PutData', 'GetData', 'ListData', 'RemoveData', 'Reserve', 'MigrateRank', 'DrainNode', 'ResumeNode']
  } as const
  for (const [svc, names] of Object.entries(ops) as Array<[keyof typeof ops, readonly string[]]>) {
    const w = wsdlFile(svc)
    const declared = [...w.matchAll(/<wsdl:operation name="(\w+)">\s*(?:<wsdl:documentation>[^<]*<\/wsdl:documentation>\s*)?<wsdl:input/g)].map((m) => m[1])
    t.same(declared, names, `${svc} portType operations`)
    for (const op of names) {
      // <Op>Request, not <Op>: JAX-WS then binds `OpResponse op(OpRequest)`, no Holder<> arguments
      t.notMatch(w, `<xs:element name="${op}"`, `${svc}.${op}: no element named after the operation`)
      t.match(w, new RegExp(`<xs:element name="${op}Request">\\s*<xs:complexType>`), `${svc}.${op}: request is one complexType element`)
      t.match(w, new RegExp(`<xs:element name="${op}Response">\\s*<xs:complexType>`), `${svc}.${op}: response is one complexType element`)
      t.match(w, `<wsdl:part name="parameters" element="tns:${op}Request"/>`)
      t.match(w, new RegExp(`<wsdl:operation name="${op}">\\s*<wsdl:documentation>[^<]{20,}</wsdl:documentation>`), `${svc}.${op} documented`)
      t.match(w, `soapAction="urn:mvm:${svc.toLowerCase()}:v1#${op}"`)
    }
  }
})

t.test('shared types stay identical across WSDLs', async (t) => {
  const b = wsdlFile('Bootstrap')
  const k = wsdlFile('Broker')
  t.same(sequence(b, 'NodeInfo'), sequence(k, 'NodeInfo'))
  t.same(sequence(k, 'NodeInfo'), ['peerId', 'group', 'roles', 'state', 'load', 'totalSlots', 'freeSlots', 'freeMemoryMB', 'processes', 'queueDepth', 'lastSeen', 'labels', 'soapUrl', 'drain', 'data'])
  t.same(sequence(k, 'DataCounters'), ['bytesIn', 'bytesOut', 'chunksIn', 'chunksOut', 'hits', 'misses', 'dedupChunks', 'zeroChunks', 'corrupt', 'evictions', 'storedBytes', 'maxBytes', 'envBuilds', 'envReused', 'envWritten'])
  t.same(sequence(wsdlFile('Node'), 'RankLog'), ['rank', 'stdout', 'stderr', 'truncated', 'outEnd', 'errEnd'])
  t.same(sequence(k, 'RankLog'), ['rank', 'peerId', 'stdout', 'stderr', 'truncated', 'error', 'outEnd', 'errEnd'])
  // Broker requests add the caller's `subject` (policy role-based access) after the Node's fields
  t.same(sequence(k, 'GetJobLogsRequest'), [...sequence(wsdlFile('Node'), 'GetLogsRequest'), 'subject'])
  t.same(sequence(k, 'GetJobLogsRequest'), ['jobId', 'rank', 'maxBytes', 'outOffset', 'errOffset', 'subject'])
  t.same(sequence(k, 'JobSubmission'), sequence(k, 'SubmitJobRequest'), 'a SubmitJobs entry is a SubmitJob')
  t.same(sequence(k, 'SubmittedJob'), sequence(k, 'SubmitJobResponse'))
  t.same(sequence(k, 'WaitJobRequest'), ['jobId', 'timeoutMs', 'subject'])
  t.same(sequence(k, 'WaitJobsRequest'), ['jobIds', 'timeoutMs', 'subject'])
  t.same(sequence(k, 'ApplyPolicyRequest'), ['policyYaml', 'subject', 'dryRun', 'force', 'previous', 'version'])
  t.same(sequence(k, 'ApplyPolicyResponse'), ['applied', 'warnings', 'changes', 'lostRights'])
  t.same(sequence(k, 'JobInfo'), ['jobId', 'parentId', 'name', 'state', 'priority', 'size', 'owner', 'submittedAt', 'startedAt', 'finishedAt', 'reason', 'placement', 'ranksStarted', 'ranksFinished', 'params', 'childJobIds', 'waitReason', 'group'])
  t.same(sequence(k, 'GetJobResultResponse'), ['jobId', 'state', 'resultJson', 'reason', 'ranks', 'params', 'outputs'])
  t.same(sequence(k, 'SubmitJobRequest'), ['profileYaml', 'profileName', 'params', 'bundle', 'owner', 'dependsOn', 'inputs', 'viaGroups'])
  t.same(sequence(k, 'DataInput'), ['name', 'id'])
  t.same(sequence(k, 'JobOutput'), ['name', 'id', 'size', 'rank'])
  t.same(sequence(k, 'DataEntry'), ['id', 'name', 'size', 'storedBytes', 'hits', 'pins', 'createdAt', 'lastUsedAt'])
  t.match(k, /<xs:element name="params" type="tns:Param" minOccurs="0" maxOccurs="unbounded"\/>\s*<xs:element name="childJobIds"/, 'JobInfo.params is a repeated tns:Param')
})

/** The XSD type of each element of a sequence, by name (`xs:long`, `tns:DataEntry`), with its occurrence bounds. */
function elementTypes (wsdl: string, typeName: string): Record<string, string> {
  const block = new RegExp(`<xs:(?:complexType|element) name="${typeName}"[^/]*?>([\\s\\S]*?)</xs:sequence>`).exec(wsdl)?.[1] ?? ''
  const out: Record<string, string> = {}
  for (const m of block.matchAll(/<xs:element name="(\w+)" type="([\w:]+)"([^>]*)>/g)) {
    out[m[1]!] = m[2]! + (m[3]!.includes('minOccurs="0"') ? '?' : '') + (m[3]!.includes('maxOccurs="unbounded"') ? '*' : '')
  }
  return out
}

const XS: Record<string, string> = { string: 'xs:string', int: 'xs:int', long: 'xs:long', double: 'xs:double', bool: 'xs:boolean', dateTime: 'xs:dateTime', base64: 'xs:base64Binary' }

/** What a shape's field should be declared as, in elementTypes' notation (nested shapes and enumerations as `tns:*`). */
function declared (f: Field): string {
  const base = typeof f.kind === 'object' || f.values !== undefined ? 'tns:*' : f.kind === 'labels' ? 'tns:Label' : XS[f.kind]!
  const many = f.many === true || f.kind === 'labels'
  return base + (f.opt === true || many ? '?' : '') + (many ? '*' : '')
}

t.test('the codec\'s shapes of the data operations match Broker.wsdl, element by element', async (t) => {
  const k = wsdlFile('Broker')
  for (const op of ['PutData', 'GetData', 'ListData', 'RemoveData', 'SubmitJob', 'GetJobResult']) {
    for (const [side, shape] of [['Request', operations.Broker[op]!.input], ['Response', operations.Broker[op]!.output]] as const) {
      const types = elementTypes(k, `${op}${side}`)
      t.same(Object.keys(types), Object.keys(shape), `${op}${side}: the same elements in the same order`)
      for (const [name, f] of Object.entries(shape)) {
        const want = declared(f)
        const got = types[name] ?? 'missing'
        t.equal(want.startsWith('tns:*') ? got.replace(/^tns:\w+/, 'tns:*') : got, want, `${op}${side}.${name}`)
      }
    }
  }
  t.same(elementTypes(k, 'DataEntry'), {
    id: 'xs:string', name: 'xs:string', size: 'xs:long', storedBytes: 'xs:long', hits: 'xs:int', pins: 'xs:string?*', createdAt: 'xs:dateTime', lastUsedAt: 'xs:dateTime'
  })
  t.same(elementTypes(k, 'JobOutput'), { name: 'xs:string', id: 'xs:string', size: 'xs:long', rank: 'xs:int' })
})

t.test('tns:JobState enumerates exactly the JobState of @mvm/core, in order', async (t) => {
  const block = /<xs:simpleType name="JobState">([\s\S]*?)<\/xs:simpleType>/.exec(wsdlFile('Broker'))?.[1] ?? ''
  t.same([...block.matchAll(/<xs:enumeration value="(\w+)"\/>/g)].map((m) => m[1]), Object.values(JobState))
})

t.test('SubmitJob and SubmitJobs document the bundle convention', async (t) => {
  const w = wsdlFile('Broker')
  for (const op of ['SubmitJob', 'SubmitJobs']) {
    const doc = new RegExp(`<wsdl:operation name="${op}">\\s*<wsdl:documentation>([^<]*)<`).exec(w)?.[1] ?? ''
    for (const word of ['profileYaml', 'profileName', 'bundle', 'base64', 'relative', '..', 'inline', 'ts|js']) t.ok(doc.includes(word), `${op} documentation mentions ${word}`)
  }
})

// `mvm wsdl` (the CLI printing these files) is tested in test/wsdl-cli.test.ts.

t.test('wsdlText rewrites only the address and refuses bad URLs', async (t) => {
  const w = wsdlText('Broker', 'http://10.0.0.5:7070/mvm/Broker')
  t.match(w, '<soap:address location="http://10.0.0.5:7070/mvm/Broker"/>')
  t.equal(w.length - wsdlFile('Broker').length, 'http://10.0.0.5:7070/mvm/Broker'.length - 'http://mvm-node.invalid:7070/mvm/Broker'.length)
  t.throws(() => wsdlText('Broker', 'nope'), { code: 'E_BAD_REQUEST' })
  t.throws(() => wsdlText('Other' as 'Node', 'http://x/'), { code: 'E_NOT_FOUND' })
})
