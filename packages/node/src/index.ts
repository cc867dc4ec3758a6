/** @packageDocumentation The MVM node: libp2p overlay (bootstrap, super-peers, peers), membership, monitoring, control and data protocols. */
export {}
