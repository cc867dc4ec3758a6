import { z } from 'zod'

/**
 * Upper bound on ranks for any shape: a topology is wired port by port, so a typo such as
 * `size: 100000` should be refused here rather than allocate millions of links.
 */
export const MAX_RANKS = 4096
/** `complete` has n·(n-1) links; keep it to a size a job could actually wire. */
export const MAX_COMPLETE_RANKS = 256

/**
 * A whole number that may arrive as a string: `${size}` parameters are substituted as text
 * when the parameter came from the command line, and the model coerces them here.
 */
const wholeNumber = z.union([
  z.number(),
  z.string().trim().regex(/^\d+$/, 'expected a whole number').transform(Number)
], { error: (issue) => `expected a whole number, got ${JSON.stringify(issue.input)}` }).pipe(z.number().int('expected a whole number'))

const size = wholeNumber.pipe(z.number().min(1, 'size must be at least 1').max(MAX_RANKS, `size must be at most ${MAX_RANKS}`))

const bool = z.union([
  z.boolean(),
  z.enum(['true', 'false']).transform((s) => s === 'true')
], { error: (issue) => `expected true or false, got ${JSON.stringify(issue.input)}` })

/** Port and node names end up as queue names and in `ctx.send('name')`; keep them plain. */
export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/
const name = z.string().regex(NAME_PATTERN, 'expected a name of letters, digits, "_" or "-", starting with a letter or "_"')

const description = z.string().optional()

const ring = z.object({
  shape: z.literal('ring'),
  size: size.pipe(z.number().min(2, 'a ring needs at least 2 ranks')),
  description
}).strict()

const line = z.object({
  shape: z.literal('line'),
  size,
  directed: bool.default(false),
  description
}).strict()

const star = z.object({ shape: z.literal('star'), size, description }).strict()

const dims = z.array(wholeNumber.pipe(z.number().min(1, 'a dimension must be at least 1')))
  .min(1, 'dims needs 1 to 3 entries').max(3, 'dims needs 1 to 3 entries')

const mesh = z.object({ shape: z.literal('mesh'), size: size.optional(), dims, description }).strict()
const torus = z.object({ shape: z.literal('torus'), size: size.optional(), dims, description }).strict()

const tree = z.object({
  shape: z.literal('tree'),
  size,
  arity: wholeNumber.pipe(z.number().min(1, 'arity must be at least 1').max(64, 'arity must be at most 64')).default(2),
  description
}).strict()

const hypercube = z.object({ shape: z.literal('hypercube'), size, description }).strict()
const butterfly = z.object({ shape: z.literal('butterfly'), size, description }).strict()
const complete = z.object({
  shape: z.literal('complete'),
  size: size.pipe(z.number().max(MAX_COMPLETE_RANKS, `a complete graph is limited to ${MAX_COMPLETE_RANKS} ranks`)),
  description
}).strict()

const graphNode = z.object({
  name,
  ports: z.array(name).optional(),
  label: z.string().optional()
}).strict()

const graphEdge = z.object({
  from: z.string().min(1),
  to: z.string().min(1)
}).strict()

const graph = z.object({
  shape: z.literal('graph'),
  /** Optional; when given it must equal the node count (lets profiles pass one `size`). */
  size: size.optional(),
  directed: bool.default(false),
  nodes: z.array(graphNode).min(1, 'a graph needs at least one node').max(MAX_RANKS),
  edges: z.array(graphEdge).default([]),
  description
}).strict()

/** Schema of a Topology file's `spec` section, discriminated on `shape`. */
export const topologySpecSchema = z.discriminatedUnion('shape', [
  ring, line, star, mesh, torus, tree, hypercube, butterfly, complete, graph
])

export type TopologySpecInput = z.input<typeof topologySpecSchema>
export type TopologySpec = z.output<typeof topologySpecSchema>
export type RingSpec = z.output<typeof ring>
export type LineSpec = z.output<typeof line>
export type StarSpec = z.output<typeof star>
export type GridSpec = z.output<typeof mesh> | z.output<typeof torus>
export type TreeSpec = z.output<typeof tree>
export type HypercubeSpec = z.output<typeof hypercube>
export type ButterflySpec = z.output<typeof butterfly>
export type CompleteSpec = z.output<typeof complete>
export type GraphSpec = z.output<typeof graph>
