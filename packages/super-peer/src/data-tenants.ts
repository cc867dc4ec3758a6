import { isContentId, type DataStore } from '@mvm/data'
import type { BrokerHandlers, RequestContext } from '@mvm/soap'
import type { DataAccess } from './data-access.js'

/** The signed-in subject of a call (the caller, or whom it may assume), else undefined: not a tenant. */
function tenantOf (req: { subject?: string }, ctx: RequestContext | undefined): string | undefined {
  const user = ctx?.caller?.user
  if (user === undefined) return undefined
  return req.subject !== undefined && req.subject !== '' ? req.subject : user
}

/**
 * PutData, GetData, ListData and RemoveData kept to each signed-in user's own files (see
 * {@link DataAccess}): uploads are recorded as the uploader's, reads and removals of another
 * user's file are refused (E_FORBIDDEN), lists show only what the caller may read.
 */
export function tenantData (h: BrokerHandlers, access: DataAccess | undefined, store: DataStore): BrokerHandlers {
  if (access === undefined) return h
  const out: BrokerHandlers = { ...h }
  const { PutData, GetData, ListData, RemoveData } = h
  if (PutData !== undefined) {
    out.PutData = async (req, ctx) => {
      const res = await PutData(req, ctx)
      const user = tenantOf(req, ctx)
      if (user !== undefined) access.recordUpload(user, res.id)
      return res
    }
  }
  if (GetData !== undefined) {
    out.GetData = async (req, ctx) => {
      const user = tenantOf(req, ctx)
      if (user !== undefined && isContentId(req.id) && store.get(req.id) !== undefined) access.checkRead(user, req.id, 'GetData')
      return await GetData(req, ctx)
    }
  }
  if (ListData !== undefined) {
    out.ListData = async (req, ctx) => {
      const res = await ListData(req, ctx)
      const user = tenantOf(req, ctx)
      return user === undefined ? res : { ...res, files: res.files.filter((f) => access.mayRead(user, f.id)) }
    }
  }
  if (RemoveData !== undefined) {
    out.RemoveData = async (req, ctx) => {
      const user = tenantOf(req, ctx)
      if (user !== undefined && isContentId(req.id) && store.get(req.id) !== undefined) access.checkRead(user, req.id, 'RemoveData')
      return await RemoveData(req, ctx)
    }
  }
  return out
}
