import { componentLogger, ConfigError, ForbiddenError, InvalidStateError, silentLogger, type Logger } from '@mvm/core'
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import {
  DATA_REQUEST_MAX_BYTES, USERS_FILE, createAuthenticator, createBootstrapClient, startSoapServer, usersSource,
  type Authenticate, type AuthInput, type Caller, type HttpRouteHandler, type SoapAuthorize, type NodeStatus, type ServiceHandlers, type SoapCallObserver, type SoapServer
} from '@mvm/soap'
import type { ChildReport, MessageInit, RpcPeer } from '@mvm/wire'
import { createNodeMetrics, type NodeMetrics } from '@mvm/metrics'
import { createAdmission, readDomainKey, type AdmissionPolicy } from './admission.js'
import { BootstrapService } from './bootstrap-service.js'
import { ChildReportSender } from './child-report.js'
import { ControlRouter } from './control-router.js'
import { GroupService } from './group-service.js'
import { createHost, type Host } from './host.js'
import { ControlTrafficCounter } from './traffic.js'
import { streamAccess, type StreamAccess } from './streams.js'
import { loadOrCreateKey } from './keys.js'
import { lockDataDir } from './data-dir.js'
import { Member, type LinkStatus } from './member.js'
import { Membership, type HeartbeatTiming, type Retiming } from './membership.js'
import { Monitor } from './monitor.js'
import { ProcessTable } from './process-table.js'
import { Registrar } from './registrar.js'
import { buildSoapServices } from './soap-services.js'
import { remoteAuthenticator, remoteMemberCheck, serveAuth } from './remote-auth.js'
import { PeerState, Role, STANDBY_ROLE, type LoadReport, type MemberInfo, type PeerStateListener } from './types.js'
import { resolveInit, type MvmNodeInit, type ResolvedInit } from './init.js'

type Services = ReturnType<typeof buildSoapServices>

async function readTls (files: { certFile: string, keyFile: string }): Promise<{ cert: Buffer, key: Buffer }> {
  const read = async (f: string, what: string): Promise<Buffer> => {
    try { return await readFile(f) } catch (err) { throw new ConfigError(`soap.tls: cannot read the ${what} ${f}: ${(err as Error).message}`) }
  }
  return { cert: await read(files.certFile, 'certificate'), key: await read(files.keyFile, 'key') }
}

/** The composition root: builds the parts the roles need, starts them in order, stops them in reverse. */
export class NodeRuntime {
  readonly cfg: ResolvedInit
  readonly log: Logger
  readonly router = new ControlRouter()
  readonly processes = new ProcessTable()
  readonly traffic = new ControlTrafficCounter()
  readonly monitor: Monitor
  /** Served at `/metrics`; the roles attached by the composition root add their sources. */
  readonly metrics: NodeMetrics
  readonly streams: StreamAccess = streamAccess(() => this.need(this.host, 'streams'))
  private readonly listeners = new Set<PeerStateListener>()
  private host: Host | undefined
  private soap: SoapServer | undefined
  private services: Services | undefined
  private bootstrap: BootstrapService | undefined
  private membership: Membership | undefined
  private group: GroupService | undefined
  private registrar: Registrar | undefined
  private member: Member | undefined
  private parentMember: Member | undefined
  private readonly reports = new ChildReportSender()
  private unhandleAck: (() => void) | undefined
  private started = false
  private startedAt = 0
  private readonly pendingSoap: ServiceHandlers[] = []
  private readonly pendingRoutes: Array<[string, HttpRouteHandler]> = []
  private unlock: (() => Promise<void>) | undefined
  private stopAuthService: (() => Promise<void>) | undefined
  private memberCheck: ((peerId: string) => Promise<boolean>) | undefined
  private superPeerIds: { ids: Set<string>, at: number } | undefined
  private authRequired: () => boolean
  private readonly callObservers = new Set<SoapCallObserver>()
  private authorizer: SoapAuthorize | undefined
  /** Present on a super-peer: it holds the users file. */
  readonly authenticate: Authenticate | undefined

  constructor (init: MvmNodeInit) {
    this.cfg = resolveInit(init)
    this.log = init.logger ?? silentLogger()
    this.monitor = new Monitor(this.cfg.capacity, init.resources)
    this.metrics = createNodeMetrics({ labels: { group: this.cfg.group } })
    this.addHttpRoute('/metrics', async (req, res) => { await this.metrics.serve(req, res) })
    this.authRequired = () => this.cfg.security.clientAuthentication === 'required'
    this.authenticate = this.cfg.roles.includes('super-peer') ? this.makeAuthenticator() : undefined
  }

  /**
   * A super-peer checks SOAP callers against `<dataDir>/users.json`. The Bootstrap service stays
   * open: clients locate their broker through it, and remote super-peers register there.
   */
  private makeAuthenticator (): Authenticate {
    const log = componentLogger(this.log, 'auth')
    const users = usersSource(join(this.cfg.dataDir, USERS_FILE), (err) => { log.error({ err }, 'users file unreadable; the last good copy stays in force') })
    const check = createAuthenticator({
      users,
      required: () => this.authRequired(),
      onRefused: (reason, input, user) => { log.warn({ remote: input.remoteAddress, op: `${input.service}.${input.operation}`, user, reason }, 'authentication refused') }
    })
    // credentials sent to it are still checked, so GetResources can answer by the caller's roles
    const signed = (input: Parameters<Authenticate>[0]): boolean =>
      (input.authorization ?? '') !== '' || (input.header as { Security?: unknown } | undefined)?.Security !== undefined
    return (input) => input.service === 'Bootstrap' && !signed(input) ? { method: 'none' } : check(input)
  }

  /**
   * A call a member of this super-peer's group received, checked as if it had come here: the
   * credentials by this node's authenticator, the operation by its access rules. A refusal is
   * told to the SOAP call observers (the audit log) with the member's caller's address.
   */
  private checkMemberCall (input: AuthInput): Caller {
    const authenticate = this.need(this.authenticate, 'member credentials')
    let caller: Caller | undefined
    try {
      if (!['Node', 'Broker', 'Bootstrap'].includes(input.service)) throw new ConfigError(`unknown SOAP service "${input.service.slice(0, 40)}"`)
      caller = authenticate(input)
      this.authorizer?.({ service: input.service as 'Node', operation: input.operation, request: {}, caller, remoteAddress: input.remoteAddress })
      return caller
    } catch (err) {
      const code = (err as { code?: unknown }).code
      componentLogger(this.log, 'auth').warn({ remote: input.remoteAddress, op: `${input.service}.${input.operation}`, code, reason: (err as Error).message }, 'a call to a member refused')
      const seen = { service: input.service as 'Node', operation: input.operation, result: typeof code === 'string' ? code : 'E_INTERNAL', seconds: 0, remoteAddress: input.remoteAddress, ...(caller !== undefined ? { caller } : {}) }
      for (const cb of this.callObservers) { try { cb(seen) } catch {} }
      throw err
    }
  }

  /**
   * Whether `peerId` belongs with this node's group, so may fetch its data: a super-peer's
   * admitted members and its parent's super-peer; a peer's own super-peer and the members that
   * super-peer vouches for (asked over /mvm/auth, remembered a minute).
   */
  async isGroupPeer (peerId: string): Promise<boolean> {
    if (this.host !== undefined && peerId === this.peerId) return true
    if (this.membership !== undefined) {
      return this.membership.isMember(peerId) || this.parentMember?.link.superPeerId === peerId || await this.isRegisteredSuperPeer(peerId)
    }
    const link = this.member?.link
    if (link?.superPeerId === peerId) return true
    return await (this.memberCheck?.(peerId) ?? Promise.resolve(false))
  }

  /**
   * Whether peerId is another group's super-peer in the bootstrap registry: super-peers pass jobs
   * between groups (crossGroup), so each fetches the other's job inputs and outputs. The list is
   * re-read at most once a second, and only for a peer it does not name yet.
   */
  private async isRegisteredSuperPeer (peerId: string): Promise<boolean> {
    const now = Date.now()
    const known = this.superPeerIds
    if (known !== undefined && (known.ids.has(peerId) || now - known.at < 1000)) return known.ids.has(peerId)
    const ids = new Set((await this.brokers()).flatMap((b) => b.peerId === undefined ? [] : [b.peerId]))
    this.superPeerIds = { ids, at: now }
    return ids.has(peerId)
  }

  /** The role check run before every SOAP operation (a super-peer's policy); none: every call goes through. */
  setSoapAuthorizer (authorize: SoapAuthorize): void { this.authorizer = authorize }

  /** Whether SOAP calls must carry credentials, read at every call (a super-peer passes its live policy). */
  setClientAuthentication (required: () => boolean): void { this.authRequired = required }

  /** Told of every SOAP call once answered or refused (metrics, the audit log). */
  onSoapCall (cb: SoapCallObserver): () => void {
    this.callObservers.add(cb)
    return () => { this.callObservers.delete(cb) }
  }

  isStarted (): boolean { return this.started }

  get peerId (): string { return this.need(this.host, 'peerId').peerId.toString() }
  get soapUrl (): string { return this.need(this.soap, 'soapUrl').baseUrl }
  get multiaddrs (): string[] { return this.need(this.host, 'multiaddrs').getMultiaddrs().map((m) => m.toString()) }

  async start (): Promise<void> {
    if (this.started) return
    const { cfg } = this
    const overlay = componentLogger(this.log, 'overlay')
    const has = (r: string): boolean => cfg.roles.includes(r as Role)
    try {
      this.unlock = await lockDataDir(cfg.dataDir)
      const { key, created } = await loadOrCreateKey(cfg.dataDir)
      this.host = await createHost(key, cfg.listen, cfg.transport, cfg.identify)
      overlay.info({ peerId: this.host.peerId.toString(), created, dataDir: cfg.dataDir }, created ? 'new node identity' : 'node identity loaded')
      const domainKey = cfg.security.domainKeyFile === undefined ? undefined : await readDomainKey(cfg.security.domainKeyFile)

      if (has(Role.bootstrap)) this.bootstrap = new BootstrapService(cfg.bootstrapLeaseSec, componentLogger(this.log, 'bootstrap'))
      if (has(Role.superPeer)) {
        this.membership = new Membership({
          group: cfg.group,
          heartbeatMs: cfg.monitoring.heartbeatMs,
          missedHeartbeats: cfg.monitoring.missedHeartbeats,
          log: overlay,
          self: () => this.selfInfo()
        })
        this.membership.onPeerState((e) => { for (const l of this.listeners) l(e) })
        this.group = new GroupService({
          host: this.host,
          group: cfg.group,
          roles: cfg.roles,
          membership: this.membership,
          admission: await createAdmission(cfg.security as AdmissionPolicy),
          router: this.router,
          maxChildGroups: cfg.monitoring.maxChildGroups,
          log: componentLogger(this.log, 'control'),
          traffic: this.traffic
        })
      }

      await this.host.start()
      await this.group?.start()
      if (this.membership !== undefined && this.authenticate !== undefined) {
        const membership = this.membership
        this.stopAuthService = await serveAuth({
          streams: this.streams,
          isMember: (peerId) => membership.isMember(peerId),
          check: (input) => this.checkMemberCall(input),
          log: componentLogger(this.log, 'auth')
        })
      }
      // a peer-only node has no users file: its super-peer checks what its callers send
      const joinedTo = (): string | undefined => { const l = this.member?.link; return l?.state === 'joined' ? l.superPeerId : undefined }
      // a bootstrap-only node belongs to no group: it checks callers itself, by its own policy
      // and users file (unsigned Bootstrap calls stay open, as on a super-peer)
      const authenticate = this.authenticate ?? (has(Role.peer)
        ? remoteAuthenticator({ streams: this.streams, superPeer: joinedTo, required: () => this.authRequired(), log: componentLogger(this.log, 'auth') })
        : this.makeAuthenticator())
      this.memberCheck = remoteMemberCheck({ streams: this.streams, superPeer: joinedTo, log: componentLogger(this.log, 'auth') })
      this.membership?.start()
      const membership = this.membership
      if (membership !== undefined) {
        this.metrics.setOverlay({
          heartbeatsMissed: () => membership.missedTotal,
          heartbeatsReceived: () => membership.receivedTotal,
          members: () => {
            const byState: Record<string, number> = { up: 0, down: 0, left: 0 }
            for (const m of membership.view({ includeChildren: false }).slice(1)) byState[m.state] = (byState[m.state] ?? 0) + 1
            return byState
          }
        })
      }
      this.services = buildSoapServices({
        bootstrap: this.bootstrap,
        membership: this.membership,
        processes: this.processes,
        router: this.router,
        peerId: this.host.peerId.toString(),
        status: () => this.status()
      })
      for (const extra of this.pendingSoap.splice(0)) this.mergeSoap(extra)
      const { mounted, ...handlers } = this.services
      const services: ServiceHandlers = {}
      for (const name of mounted) services[name] = handlers[name] as never
      // a super-peer takes PutData calls of up to 16 MiB (base64 in an envelope)
      const tls = cfg.soap.tls === undefined ? undefined : await readTls(cfg.soap.tls)
      this.soap = await startSoapServer({ host: cfg.soap.host, port: cfg.soap.port, services, ...(tls !== undefined ? { tls } : {}), ...(cfg.roles.includes('super-peer') ? { maxRequestBytes: DATA_REQUEST_MAX_BYTES } : {}), logger: componentLogger(this.log, 'soap'),
        authorize: (c) => { this.authorizer?.(c) },
        ...(authenticate !== undefined ? { authenticate, security: this.authRequired() ? 'required' as const : 'none' as const } : {}),
        onCall: (c) => {
          this.metrics.soapCall(c)
          for (const cb of this.callObservers) cb(c)
        }
      })
      for (const [prefix, h] of this.pendingRoutes.splice(0)) this.soap.route(prefix, h)
      this.startedAt = Date.now()

      if (this.membership !== undefined) {
        this.registrar = new Registrar({
          registration: () => ({ group: cfg.group, peerId: this.peerId, multiaddrs: this.multiaddrs, soapUrl: this.soapUrl, ...(cfg.parentGroup === undefined ? {} : { parentGroup: cfg.parentGroup }) }),
          local: this.bootstrap,
          bootstraps: cfg.bootstrap,
          log: overlay
        })
        this.registrar.start()
        if (cfg.parentGroup !== undefined) {
          this.reports.reset()
          this.parentMember = this.newMember(cfg.parentGroup, domainKey, overlay, () => this.childReport())
          this.unhandleAck = this.router.handle('childReportAck', (b, ctx) => {
            // only the parent super-peer this node reports to may ask it for a full report
            if (ctx.peerId !== this.parentMember?.link.superPeerId) throw new ForbiddenError(`childReportAck from ${ctx.peerId}, which is not this node's parent super-peer`)
            this.reports.onAck(b)
            return undefined
          })
        }
      } else if (has(Role.peer) || cfg.standby) {
        this.member = this.newMember(cfg.group, domainKey, overlay)
      }
      this.member?.start()
      this.parentMember?.start()
      this.started = true
      overlay.info({ peerId: this.peerId, roles: cfg.roles, group: cfg.group, soapUrl: this.soapUrl, multiaddrs: this.multiaddrs }, 'node ready')
    } catch (e) {
      await this.teardown()
      throw e
    }
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.teardown()
    componentLogger(this.log, 'overlay').info('node stopped')
  }

  /**
   * Stops as a crash would look from outside: the libp2p host goes first, so every connection
   * is reset and no Leave is sent (the super-peer sees the control channel fail). For tests
   * and `mvm sim` churn.
   */
  async crash (): Promise<void> {
    if (!this.started) return
    this.started = false
    try { await this.host?.stop() } catch {}
    await this.teardown()
  }

  private async teardown (): Promise<void> {
    // Leave first (while the connection is up), then stop serving, then the host.
    await Promise.allSettled([this.member?.stop(), this.parentMember?.stop()])
    this.unhandleAck?.()
    this.unhandleAck = undefined
    await this.registrar?.stop()
    this.membership?.stop()
    await this.stopAuthService?.()
    this.stopAuthService = undefined
    await (this.group?.stop() ?? Promise.resolve()).catch(() => {})
    await this.soap?.close().catch(() => {})
    try { await this.host?.stop() } catch {}
    await this.unlock?.().catch(() => {})
    this.unlock = undefined
    this.member = this.parentMember = this.registrar = this.group = undefined
    this.soap = undefined
  }

  private newMember (group: string, domainKey: Uint8Array | undefined, log: Logger, childReport?: () => MessageInit<ChildReport>): Member {
    const roles = group === this.cfg.group ? this.shownRoles() : [Role.superPeer]
    return new Member({
      host: this.need(this.host, 'member'),
      group,
      roles,
      labels: this.cfg.labels,
      capacity: this.cfg.capacity,
      soapUrl: () => this.soapUrl,
      bootstraps: this.cfg.bootstrap,
      localBootstrap: this.bootstrap,
      domainKey,
      monitor: this.monitor,
      router: this.router,
      heartbeatMs: this.cfg.monitoring.heartbeatMs,
      log: log.child({ link: group }),
      onStatus: (s) => {
        // a fresh control channel to the parent: it holds nothing of ours yet
        if (childReport !== undefined && s.state === 'joined') this.reports.reset()
        log.debug(s, `link to group ${group}: ${s.state}`)
      },
      traffic: this.traffic,
      ...(childReport === undefined ? {} : { childReport })
    })
  }

  /** The roles members and `mvm nodes` see: a standby shows as one (and is never given ranks unless it is a peer too). */
  private shownRoles (): string[] {
    return this.cfg.standby ? [...this.cfg.roles, STANDBY_ROLE] : [...this.cfg.roles]
  }

  onPeerState (cb: PeerStateListener): () => void {
    this.listeners.add(cb)
    return () => { this.listeners.delete(cb) }
  }

  view (opts: { group?: string, includeChildren?: boolean } = {}): MemberInfo[] {
    return this.membership?.view(opts) ?? []
  }

  /** One node of the view (children's included). */
  memberInfo (peerId: string): MemberInfo | undefined {
    return this.membership?.get(peerId)
  }

  link (): LinkStatus | undefined { return this.member?.link }

  /** The heartbeat timing this super-peer expects of its group; undefined on other roles. */
  heartbeatTiming (): HeartbeatTiming | undefined {
    const m = this.membership
    return m === undefined ? undefined : { heartbeatMs: m.heartbeatMs, missedHeartbeats: m.missedHeartbeats }
  }

  /** Switches this super-peer's expected heartbeat timing at run time (see {@link Membership.retime}); logged as an event. */
  retimeGroup (next: Partial<HeartbeatTiming>): Retiming | undefined {
    const r = this.membership?.retime(next)
    if (r !== undefined) {
      componentLogger(this.log, 'overlay').info({ event: 'heartbeatTiming', group: this.cfg.group, from: r.from, to: r.to, graceUntilMs: r.graceUntilMs },
        `group ${this.cfg.group}: heartbeats every ${r.to.heartbeatMs} ms (was ${r.from.heartbeatMs}), down after ${r.to.missedHeartbeats} missed (was ${r.from.missedHeartbeats}); the wider bound holds until every member switched`)
    }
    return r
  }

  /** A super-peer this node is a member of said to beat at `heartbeatMs`: the link to it follows (peer link or parent link). */
  followHeartbeat (from: string, heartbeatMs: number): boolean {
    let changed = false
    for (const m of [this.member, this.parentMember]) {
      if (m?.retime(from, heartbeatMs) === true) {
        changed = true
        componentLogger(this.log, 'overlay').info({ event: 'heartbeatTiming', link: m.link.group, superPeer: from, heartbeatMs }, `link to group ${m.link.group}: heartbeats every ${heartbeatMs} ms from now on`)
      }
    }
    return changed
  }

  /**
   * Every super-peer (broker) of the tree as the bootstrap registry lists them: this node's own
   * registry when it is a bootstrap, else the first bootstrap that answers. Empty if none does.
   */
  async brokers (): Promise<Array<{ group: string, soapUrl: string, peerId?: string, parentGroup?: string }>> {
    if (this.bootstrap !== undefined) return this.bootstrap.brokers()
    for (const url of this.cfg.bootstrap) {
      try { return (await createBootstrapClient(url).GetBrokers({}, { timeoutMs: 5000 })).brokers } catch {}
    }
    return []
  }
  parentLink (): LinkStatus | undefined { return this.parentMember?.link }
  toPeer (peerId: string): RpcPeer | undefined { return this.group?.peer(peerId) }
  toSuperPeer (): RpcPeer | undefined { return this.member?.superPeer }

  /** Adds SOAP operations (e.g. the broker's SubmitJob); before start they are kept until the server is up. */
  extendSoap (extra: ServiceHandlers): void {
    if (this.services === undefined) { this.pendingSoap.push(extra); return }
    this.mergeSoap(extra)
  }

  addHttpRoute (prefix: string, handler: HttpRouteHandler): void {
    if (this.soap === undefined) { this.pendingRoutes.push([prefix, handler]); return }
    this.soap.route(prefix, handler)
  }

  private mergeSoap (extra: ServiceHandlers): void {
    const s = this.need(this.services, 'extendSoap')
    for (const name of ['Bootstrap', 'Node', 'Broker'] as const) {
      const add = extra[name]
      if (add === undefined) continue
      if (!s.mounted.includes(name)) {
        if (this.soap !== undefined) throw new ConfigError(`SOAP service ${name} is not mounted on this node (roles ${this.cfg.roles.join(',')})`)
        s.mounted.push(name)
      }
      Object.assign(s[name], add)
    }
  }

  status (): NodeStatus {
    const r = this.monitor.report()
    return {
      peerId: this.host?.peerId.toString() ?? '',
      roles: this.shownRoles(),
      group: this.cfg.group,
      state: this.started ? 'up' : 'starting',
      load: r.load,
      totalSlots: r.totalSlots,
      freeSlots: r.freeSlots,
      totalMemoryMB: this.cfg.capacity.memoryMB,
      freeMemoryMB: r.freeMemoryMb,
      processes: r.processes,
      uptimeSec: this.startedAt === 0 ? 0 : Math.floor((Date.now() - this.startedAt) / 1000),
      soapUrl: this.soap?.baseUrl ?? '',
      multiaddrs: this.host?.getMultiaddrs().map((m) => m.toString()) ?? [],
      labels: { ...this.cfg.labels }
    }
  }

  private selfInfo (): MemberInfo {
    return {
      peerId: this.host?.peerId.toString() ?? '',
      group: this.cfg.group,
      roles: [...this.cfg.roles],
      state: PeerState.up,
      labels: { ...this.cfg.labels },
      soapUrl: this.soap?.baseUrl ?? '',
      multiaddrs: this.host?.getMultiaddrs().map((m) => m.toString()) ?? [],
      report: this.monitor.report(),
      lastSeen: Date.now()
    }
  }

  /** This group's aggregate for the parent: live nodes (children's included) and totals. */
  private childReport (): MessageInit<ChildReport> {
    // a child super-peer is in this view twice, as a member and in its own group's report:
    // listed once, so the parent's copy matches the report's count (else every report is a full one)
    const seen = new Set<string>()
    const nodes = this.view().filter((n) => n.state === PeerState.up && !seen.has(n.peerId) && seen.add(n.peerId) !== undefined)
    const sum = (f: (n: MemberInfo) => number): number => nodes.reduce((a, n) => a + f(n), 0)
    const totals = {
      load: sum((n) => n.report.load),
      freeSlots: sum((n) => n.report.freeSlots),
      totalSlots: sum((n) => n.report.totalSlots),
      freeMemoryMb: Math.min(0xffffffff, sum((n) => n.report.freeMemoryMb)),
      processes: sum((n) => n.report.processes),
      queueDepth: sum((n) => n.report.queueDepth),
      timestampMs: Date.now()
    }
    const summaries = nodes.slice(0, 10_000).map((n) => ({ peerId: n.peerId, roles: n.roles, soapUrl: n.soapUrl, report: withoutPorts(n.report) }))
    return this.reports.next(this.cfg.group, this.peerId, summaries, totals)
  }

  private need<T> (v: T | undefined, what: string): T {
    if (v === undefined) throw new InvalidStateError(`${what}: the node is not started`)
    return v
  }
}


/** A child report names nodes, not their jobs' traffic nor data counters: those stay with their own super-peer. */
function withoutPorts (r: LoadReport): LoadReport {
  const { ports: _ports, data: _data, ...rest } = r
  return rest
}
