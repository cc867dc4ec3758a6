import { BadRequestError, ConfigError, DataError, ErrorCode, MvmError, NotFoundError } from '@mvm/core'
import { isContentId, type DataStore, type FileEntry } from '@mvm/data'
import { DATA_CALL_MAX_BYTES, type BrokerHandlers, type DataEntry } from '@mvm/soap'

/** The pin PutData puts on what a user uploads: eviction leaves the file until RemoveData. */
export const USER_PIN = 'user'

/** Longest name PutData accepts (as a bundle path). */
const MAX_NAME_CHARS = 512
const CONTROL_RE = /[\u0000-\u001f\u007f]/

export interface DataHandlerOptions {
  /**
   * Most bytes of file content one PutData or GetData call carries (default and at most
   * {@link DATA_CALL_MAX_BYTES}, 16 MiB, what Broker.wsdl promises).
   */
  maxBytes?: number
}

const iso = (ms: number): string => new Date(ms).toISOString()

function toEntry (e: FileEntry): DataEntry {
  return {
    id: e.id, name: e.name, size: e.size, storedBytes: e.storedBytes, hits: e.hits, pins: [...e.pins],
    createdAt: iso(e.createdAt), lastUsedAt: iso(e.lastUsedAt)
  }
}

/**
 * PutData, GetData, ListData and RemoveData of the Broker WSDL over a node's data store. Every
 * refusal names the operation and the reason; a store error keeps its E_DATA_* code.
 */
export function brokerDataHandlers (store: DataStore, opts: DataHandlerOptions = {}): BrokerHandlers {
  const max = opts.maxBytes ?? DATA_CALL_MAX_BYTES
  if (!Number.isSafeInteger(max) || max < 1 || max > DATA_CALL_MAX_BYTES) {
    throw new ConfigError(`brokerDataHandlers: maxBytes must be an integer from 1 to ${DATA_CALL_MAX_BYTES}, got ${max}`)
  }
  const limit = `${max} bytes per call (larger files go over HTTP /data/files, or GetData in ranges)`

  const contentId = (op: string, id: string): string => {
    if (!isContentId(id)) throw new BadRequestError(`${op}: "${String(id).slice(0, 80)}" is not a content id (64 lowercase hex digits)`)
    return id
  }
  const stored = (op: string, id: string): FileEntry => {
    const e = store.get(contentId(op, id))
    if (e === undefined) throw new NotFoundError(`${op}: no file ${id} in this broker's store`, { data: { id } })
    return e
  }
  /** A store error with the operation in front; anything but an MvmError is left as it is (E_INTERNAL). */
  const named = (op: string, err: unknown): unknown => {
    if (err instanceof DataError) return new DataError(err.code as ConstructorParameters<typeof DataError>[0], `${op}: ${err.message}`, { data: err.data, retryable: err.retryable, cause: err })
    if (err instanceof MvmError && err.code === ErrorCode.BAD_REQUEST) return new BadRequestError(`${op}: ${err.message}`, { data: err.data, cause: err })
    return err
  }

  return {
    async PutData ({ name, content }) {
      if (name === '') throw new BadRequestError('PutData: name is empty')
      if (name.length > MAX_NAME_CHARS) throw new BadRequestError(`PutData: name is ${name.length} characters, over ${MAX_NAME_CHARS}`)
      if (CONTROL_RE.test(name)) throw new BadRequestError('PutData: name contains a control character')
      if (content.byteLength > max) {
        throw new BadRequestError(`PutData: content is ${content.byteLength} bytes, over ${limit}`, { data: { size: content.byteLength, maxBytes: max } })
      }
      try {
        const e = await store.importBytes(content, { name, pin: USER_PIN })
        // the same content put earlier (under any name, maybe unpinned since) is this file: pin it again
        if (!e.pins.includes(USER_PIN)) await store.pin(e.id, USER_PIN)
        return { id: e.id, size: e.size }
      } catch (err) { throw named('PutData', err) }
    },

    async GetData ({ id, offset, length }) {
      const e = stored('GetData', id)
      const from = offset ?? 0
      if (!Number.isSafeInteger(from) || from < 0) throw new BadRequestError(`GetData: offset must be a non-negative integer, got ${from}`)
      if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) throw new BadRequestError(`GetData: length must be a non-negative integer, got ${length}`)
      if (from > e.size) throw new BadRequestError(`GetData: offset ${from} is past the end of file ${id} (${e.size} bytes)`, { data: { id, size: e.size } })
      const n = length ?? e.size - from
      if (n > max) {
        const what = length !== undefined ? `length ${length} is` : `the rest of file ${id} from offset ${from} is ${n} bytes,`
        throw new BadRequestError(`GetData: ${what} over ${limit}`, { data: { id, size: e.size, maxBytes: max } })
      }
      if (from + n > e.size) {
        throw new BadRequestError(`GetData: bytes ${from} to ${from + n} are past the end of file ${id} (${e.size} bytes)`, { data: { id, size: e.size } })
      }
      try {
        const content = await store.readRange(id, from, n)
        return { id, size: e.size, offset: from, content }
      } catch (err) {
        // removed (or evicted) since the lookup above
        if (err instanceof DataError && err.code === ErrorCode.DATA_MISSING && store.get(id) === undefined) {
          throw new NotFoundError(`GetData: no file ${id} in this broker's store`, { data: { id } })
        }
        throw named('GetData', err)
      }
    },

    async ListData () {
      const s = store.stats()
      return { files: store.list().map(toEntry), storedBytes: s.bytes, maxBytes: s.maxBytes }
    },

    async RemoveData ({ id }) {
      const e = store.get(contentId('RemoveData', id))
      if (e === undefined) return { removed: false }
      try {
        for (const holder of e.pins) await store.unpin(id, holder)
        await store.remove(id)
      } catch (err) { throw named('RemoveData', err) }
      return { removed: true }
    }
  }
}
