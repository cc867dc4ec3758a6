import t from 'tap'
import { JobState } from '@mvm/core'
import { wsdlFile, wsdlText } from '@mvm/soap'

/** Element names of a named complexType (or an element's anonymous type), in order. */
function sequence (wsdl: string, typeName: string): string[] {
  const block = new RegExp(`<xs:(?:complexType|element) name="${typeName}"[^/]*?>([\\s\\S]*?)</xs:(?:complexType|element)>`).exec(wsdl)?.[1] ?? ''
  return [...block.matchAll(/<xs:element name="(\w+)"/g)].map((m) => m[1]!)
}

t.test('each WSDL declares every operation with request/response elements', async (t) => {
  const ops = {
    Bootstrap: ['GetBrokers', 'RegisterSuperPeer', 'GetResources'],
    Node: ['GetStatus', 'Awaken', 'Terminate', 'ListProcesses', 'GetLogs'],
    Broker: ['ListNodes', 'GetNode', 'SubmitJob', 'GetJob', 'ListJobs', 'CancelJob', 'GetJobResult', 'ApplyPolicy', 'GetPolicy', 'GetJobLogs', 'SubmitJobs', 'WaitJob', 'WaitJobs']
  } as const
  for (const [svc, names] of Object.entries(ops) as Array<[keyof typeof ops, readonly string[]]>) {
    const w = wsdlFile(svc)
    const declared = [...w.matchAll(/<wsdl:operation name="(\w+)">\s*<wsdl:input/g)].map((m) => m[1])
    t.same(declared, names, `${svc} portType operations`)
    for (const op of names) {
      t.match(w, `<xs:element name="${op}"`)
      t.match(w, `<xs:element name="${op}Response"`)
      t.match(w, `soapAction="urn:mvm:${svc.toLowerCase()}:v1#${op}"`)
    }
  }
})

t.test('shared types stay identical across WSDLs', async (t) => {
  const b = wsdlFile('Bootstrap')
  const k = wsdlFile('Broker')
  t.same(sequence(b, 'NodeInfo'), sequence(k, 'NodeInfo'))
  t.same(sequence(k, 'NodeInfo'), ['peerId', 'group', 'roles', 'state', 'load', 'totalSlots', 'freeSlots', 'freeMemoryMB', 'processes', 'queueDepth', 'lastSeen', 'labels', 'soapUrl'])
  t.same(sequence(wsdlFile('Node'), 'RankLog'), ['rank', 'stdout', 'stderr', 'truncated'])
  t.same(sequence(k, 'RankLog'), ['rank', 'peerId', 'stdout', 'stderr', 'truncated', 'error'])
  // Broker requests add the caller's `subject` (policy role-based access) after the Node's fields
  t.same(sequence(k, 'GetJobLogs'), [...sequence(wsdlFile('Node'), 'GetLogs'), 'subject'])
  t.same(sequence(k, 'GetJobLogs'), ['jobId', 'rank', 'maxBytes', 'subject'])
  t.same(sequence(k, 'JobSubmission'), sequence(k, 'SubmitJob'), 'a SubmitJobs entry is a SubmitJob')
  t.same(sequence(k, 'SubmittedJob'), sequence(k, 'SubmitJobResponse'))
  t.same(sequence(k, 'WaitJob'), ['jobId', 'timeoutMs', 'subject'])
  t.same(sequence(k, 'WaitJobs'), ['jobIds', 'timeoutMs', 'subject'])
  t.same(sequence(k, 'ApplyPolicy'), ['policyYaml', 'subject', 'dryRun', 'force', 'previous'])
  t.same(sequence(k, 'ApplyPolicyResponse'), ['applied', 'warnings', 'changes', 'lostRights'])
  t.same(sequence(k, 'JobInfo'), ['jobId', 'parentId', 'name', 'state', 'priority', 'size', 'owner', 'submittedAt', 'startedAt', 'finishedAt', 'reason', 'placement', 'ranksStarted', 'ranksFinished'])
})

t.test('tns:JobState enumerates exactly the JobState of @mvm/core, in order', async (t) => {
  const block = /<xs:simpleType name="JobState">([\s\S]*?)<\/xs:simpleType>/.exec(wsdlFile('Broker'))?.[1] ?? ''
  t.same([...block.matchAll(/<xs:enumeration value="(\w+)"\/>/g)].map((m) => m[1]), Object.values(JobState))
})

// `mvm wsdl` (the CLI printing these files) is tested in test/wsdl-cli.test.ts.

t.test('wsdlText rewrites only the address and refuses bad URLs', async (t) => {
  const w = wsdlText('Broker', 'http://10.0.0.5:7070/mvm/Broker')
  t.match(w, '<soap:address location="http://10.0.0.5:7070/mvm/Broker"/>')
  t.equal(w.length - wsdlFile('Broker').length, 'http://10.0.0.5:7070/mvm/Broker'.length - 'http://mvm-node.invalid:7070/mvm/Broker'.length)
  t.throws(() => wsdlText('Broker', 'nope'), { code: 'E_BAD_REQUEST' })
  t.throws(() => wsdlText('Other' as 'Node', 'http://x/'), { code: 'E_NOT_FOUND' })
})
