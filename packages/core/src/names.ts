/**
 * How ids are shown to people. A libp2p peer id is 52 characters that differ only at the end,
 * so messages keep its head (the key type) and tail (what tells peers apart), like `12D3…hYRg`.
 */
export function shortPeerId (peerId: string): string {
  return peerId.length > 12 ? `${peerId.slice(0, 4)}…${peerId.slice(-4)}` : peerId
}

/** A node as messages name it: its `name` label when it has one, then its short id. */
export function nodeLabel (peerId: string, labels?: Readonly<Record<string, string>>): string {
  const name = labels?.name
  return name !== undefined && name !== '' ? `${name} (${shortPeerId(peerId)})` : shortPeerId(peerId)
}
