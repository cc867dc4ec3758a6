/** @packageDocumentation YAML file formats (Topology, JobProfile, Policy, NodeConfig): schemas, loading with file/line/column errors, parameters, topology expansion, policy merging. */
export {}
