/** @packageDocumentation The wire protocol: .proto contracts, bounded protobuf codecs, length-prefixed framing over libp2p v3 streams. */
export {}
