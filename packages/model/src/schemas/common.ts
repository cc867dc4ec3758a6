import { z } from 'zod'
import { paramsSchema } from '../params.js'

export const API_VERSION = 'mvm/v1'
export const Kind = { Topology: 'Topology', JobProfile: 'JobProfile', Policy: 'Policy', NodeConfig: 'NodeConfig', Workflow: 'Workflow' } as const
export type Kind = (typeof Kind)[keyof typeof Kind]
export const kinds = Object.values(Kind)

const dnsLabel = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, {
  error: (iss) => `expected a lowercase name of letters, digits and '-' (e.g. 'heat-2d'), got ${JSON.stringify(iss.input)}`
})

export const metadataSchema = z.object({
  name: dnsLabel,
  description: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional()
}).strict()
export type Metadata = z.infer<typeof metadataSchema>

/** What every file starts with; checked first so a wrong kind does not drown in spec errors. */
export const headerSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.enum(kinds)
}).loose()

/** The full document shape for one kind: unknown top-level fields are errors too. */
export function documentSchema<K extends Kind, S extends z.ZodType> (kind: K, spec: S) {
  return z.object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(kind),
    metadata: metadataSchema,
    params: paramsSchema.optional(),
    spec
  }).strict()
}

/** Numbers a person writes for sizes and limits. */
export const positiveInt = () => z.int().min(1)
export const nonNegativeInt = () => z.int().min(0)
export const positiveNumber = () => z.number().positive()
export const labelsSchema = z.record(z.string(), z.string())
export const peerIdSchema = z.string().regex(/^(12D3KooW|Qm)[1-9A-HJ-NP-Za-km-z]{30,60}$/, {
  error: (iss) => `expected a libp2p peer ID (12D3KooW... or Qm...), got ${JSON.stringify(iss.input)}`
})
export const queueTypeSchema = z.enum(['fifo', 'priority'])
export const encodingSchema = z.enum(['json', 'protobuf', 'raw'])
