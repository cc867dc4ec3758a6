import { BadRequestError, ConfigError } from '@mvm/core'
import type { ControlBody, ControlBodyInit, ControlType } from '@mvm/wire'

export interface ControlContext {
  /** The Noise-authenticated peer the message came from. */
  peerId: string
  /** True when no reply is expected. */
  notification: boolean
  /** Aborted when the control channel closes. */
  signal: AbortSignal
}

export type ControlHandler<K extends ControlType = ControlType> =
  (body: Extract<ControlBody, { type: K }>, ctx: ControlContext) => ControlBodyInit | undefined | Promise<ControlBodyInit | undefined>

/**
 * Where job machinery plugs into the overlay: the lead registers handlers by message type
 * (`instantiate`, `terminate`, `jobReport` …) and the overlay routes every control message it
 * does not handle itself here. Nothing is loaded until a handler asks for it.
 */
export class ControlRouter {
  private readonly handlers = new Map<ControlType, ControlHandler>()

  handle<K extends ControlType> (type: K, handler: ControlHandler<K>, opts: { replace?: boolean } = {}): () => void {
    if (this.handlers.has(type) && opts.replace !== true) throw new ConfigError(`a control handler for ${type} is already registered`)
    this.handlers.set(type, handler as unknown as ControlHandler)
    return () => { if (this.handlers.get(type) === (handler as unknown)) this.handlers.delete(type) }
  }

  has (type: ControlType): boolean { return this.handlers.has(type) }

  async dispatch (body: ControlBody, ctx: ControlContext): Promise<ControlBodyInit | undefined> {
    const h = this.handlers.get(body.type)
    if (h === undefined) throw new BadRequestError(`no handler for control message ${body.type} on this node`)
    return await h(body, ctx)
  }
}
