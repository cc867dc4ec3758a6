/**
 * Bounds of the Broker's data operations (PutData, GetData). A call carries at most
 * {@link DATA_CALL_MAX_BYTES} of file content, in base64 inside one envelope; bigger files go
 * through HTTP /data/ (chunked, resumable) or GetData in ranges.
 */
export const DATA_CALL_MAX_BYTES = 16 * 1024 * 1024

/**
 * The `maxRequestBytes` a server needs for a PutData of {@link DATA_CALL_MAX_BYTES} to reach
 * its handler: the content as base64 plus room for the envelope and a name. The default bound
 * (4 MiB) refuses such a request with HTTP 413 before any handler runs.
 */
export const DATA_REQUEST_MAX_BYTES = Math.ceil(DATA_CALL_MAX_BYTES / 3) * 4 + 64 * 1024
