import { z } from 'zod'
import { documentSchema, labelsSchema, positiveInt } from './common.js'

const multiaddr = z.string().regex(/^(\/[A-Za-z0-9-]+\/[^/\s]+)+(\/[A-Za-z0-9-]+)?$/, {
  error: (iss) => `expected a multiaddr such as /ip4/127.0.0.1/tcp/4001, got ${JSON.stringify(iss.input)}`
})
const bootstrapAddr = z.union([z.url({ protocol: /^https?$/ }), multiaddr])

export const nodeConfigSpecSchema = z.object({
  roles: z.array(z.enum(['bootstrap', 'super-peer', 'peer'])).min(1).default(['peer']),
  listen: z.array(multiaddr).default(['/ip4/127.0.0.1/tcp/0']),
  bootstrap: z.array(bootstrapAddr).default([]),
  group: z.string().min(1).default('default'),
  parentGroup: z.string().min(1).optional(),
  /** With roles [super-peer]: follow the group's active broker and take over when it stops answering. */
  standby: z.boolean().optional(),
  labels: labelsSchema.default({}),
  capacity: z.object({ slots: positiveInt().default(4), memoryMB: positiveInt().default(2048) }).strict().prefault({}),
  dataDir: z.string().min(1).default('.mvm'),
  soap: z.object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.int().min(0).max(65535).default(0)
  }).strict().prefault({}),
  policy: z.string().min(1).optional(),
  log: z.object({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    format: z.enum(['pretty', 'json']).default('pretty')
  }).strict().prefault({})
}).strict()

export const nodeConfigSchema = documentSchema('NodeConfig', nodeConfigSpecSchema)
export type NodeConfigSpec = z.infer<typeof nodeConfigSpecSchema>
export type NodeConfigDocument = z.infer<typeof nodeConfigSchema>
