/**
 * A job's life: queued → scheduled → running → succeeded | failed | cancelled; `held` is a
 * poison job parked by the broker (its runs coincided with node deaths or failed the same way
 * repeatedly) until someone releases it back to queued.
 *
 * Declared once here because two packages that may not depend on each other speak it: the
 * broker (`@mvm/broker`), whose lifecycle moves a job between these states, and the SOAP
 * contract (`@mvm/soap`), whose `tns:JobState` enumeration in wsdl/Broker.wsdl lists exactly
 * these values (packages/soap/test/contract.test.ts keeps the two in step).
 */
export const JobState = {
  queued: 'queued',
  scheduled: 'scheduled',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
  held: 'held'
} as const
export type JobState = (typeof JobState)[keyof typeof JobState]
