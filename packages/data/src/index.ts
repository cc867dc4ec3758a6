/**
 * @packageDocumentation
 * The data layer of an MVM node: a content-addressed chunk store, the transfer protocol
 * between nodes and the HTTP endpoints clients upload and download through.
 */
export { CHUNK_SIZE, DATA_PROTOCOL } from './types.js'
export type {
  FileManifest, FileEntry, StoreStats, ImportOptions, DataStore, DataStoreInit, Holder, DataTransport,
  FetchOptions, FetchStats, TransferCounters, DataService, DataServiceInit
} from './types.js'
export { MAX_HASHES_PER_REQUEST, maxFrameBytes, maxManifestBytes } from './constants.js'
export { encodeManifest, decodeManifest, manifestId, isContentId, chunkLength, distinctChunks } from './manifest.js'
export { chunkFile, type FileChunk, type ChunkFileOptions } from './chunker.js'
export { createDataStore } from './store.js'
export { createDataService } from './service.js'
export { DATA_PROTO_PATH } from './protocol.js'
export { openOwnerIndex, type DataReader, type OwnerIndex, type PeerFilter } from './access.js'
export { createDataHttp, parseRange, MAX_HAS_REQUEST, type DataHttp, type DataHttpInit } from './http.js'
export { uploadFile, downloadFile, type UploadOptions, type UploadResult, type DownloadOptions, type DownloadResult } from './http-client.js'
export { cloneTree, decodeTree, encodeTree, type EnvironmentTree, type TreeFile, type TreeLink } from './env-tree.js'
export { createEnvironmentRegistry, newEnvironmentCounters, type EnvironmentCounters, type EnvironmentRegistry, type EnvironmentRegistryInit, type EnvironmentSource, type ResolveOptions } from './env-build.js'
export { createEnvironmentCache, MAX_WRITTEN_ENVIRONMENTS, type EnvironmentCache, type EnvironmentCacheInit } from './env-local.js'
