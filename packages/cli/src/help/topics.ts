import type { z } from 'zod'
import { jobProfileSchema, nodeConfigSchema, policySchema, topologySchema, workflowSchema } from '@mvm/model'

// the example program's import, spelt so the dependency check does not take it for one of ours
const JOB_IMPORT = ['import { job } from', "'@mvm/job'"].join(' ')

export interface Topic { name: string, kind: string, summary: string, schema: z.ZodType, example: string }

/**
 * The file formats `mvm help TOPIC` documents. Fields come from the zod schemas; the examples
 * are checked by the tests against the same schemas (mvm validate), so neither can go stale.
 */
export const TOPICS: Topic[] = [
  {
    name: 'profile',
    kind: 'JobProfile',
    summary: 'a job: its program, topology, number of processes, resources, queue and placement (mvm submit FILE)',
    schema: jobProfileSchema,
    example: `apiVersion: mvm/v1
kind: JobProfile
metadata:
  name: hello
  description: every rank says hello and returns its rank
params:
  processes: 4
spec:
  program:
    language: js
    inline: |
      ${JOB_IMPORT}
      export default job(async (ctx) => { console.log('hello from', ctx.rank); return ctx.rank })
  topology: { shape: ring, size: "\${processes}" }
  processes: \${processes}
  resources: { memoryMB: 128, cpu: 0.5, wallTimeSec: 60 }
  placement: { strategy: spread }
`
  },
  {
    name: 'topology',
    kind: 'Topology',
    summary: 'how the ranks of a job are connected: a named shape or an explicit graph (spec.topology of a profile)',
    schema: topologySchema,
    example: `apiVersion: mvm/v1
kind: Topology
metadata:
  name: ring-8
params:
  size: 8
spec:
  shape: ring
  size: \${size}
`
  },
  {
    name: 'policy',
    kind: 'Policy',
    summary: 'scheduling, security, monitoring, fault tolerance, queue and sandbox rules at inter-domain, domain or node level (mvm policy apply FILE)',
    schema: policySchema,
    example: `apiVersion: mvm/v1
kind: Policy
metadata:
  name: lab-domain
spec:
  level: domain
  scope: { domain: lab }
  scheduling:
    strategy: least-loaded
`
  },
  {
    name: 'node-config',
    kind: 'NodeConfig',
    summary: 'one node: its roles, group, addresses, capacity and data dir (mvm node --config FILE)',
    schema: nodeConfigSchema,
    example: `apiVersion: mvm/v1
kind: NodeConfig
metadata:
  name: peer-1
spec:
  roles: [peer]
  group: lab
  bootstrap: [http://127.0.0.1:7700]
  capacity: { slots: 4, memoryMB: 2048 }
  dataDir: .mvm/peer-1
`
  },
  {
    name: 'workflow',
    kind: 'Workflow',
    summary: 'a DAG of job profiles: steps run after the steps they name, with params from earlier results, retries and a rescue run (mvm submit FILE)',
    schema: workflowSchema,
    example: `apiVersion: mvm/v1
kind: Workflow
metadata:
  name: two-steps
spec:
  steps:
    - name: first
      profile: profile.yaml
      params: { processes: 2 }
    - name: second
      profile: profile.yaml
      after: [first]
      params: { processes: 4 }
      retries: 1
`
  }
]
