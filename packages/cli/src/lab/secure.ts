import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { USERS_FILE, addUser, readUsers, writeUsers, type Credentials } from '@mvm/soap'

/** The lab's single user: every sample is submitted as `lab`, so that is who signs in. */
export const LAB_USER = 'lab'

const POLICY = `apiVersion: mvm/v1
kind: Policy
metadata:
  name: lab-secure
spec:
  level: domain
  security:
    clientAuthentication: required
    roles:
      user: [job.submit, job.status, job.result, job.list, job.cancel.own, policy.read, node.list]
      admin: ['*']
    subjects:
      ${LAB_USER}: [admin]
`

export interface SecureLab { policyFile: string, credentialsFile: string, credentials: Credentials }

/**
 * `mvm lab --secure`: a policy requiring authentication, a fresh password for user `lab` in the
 * super-peer's users file, and the same credentials in `<lab>/credentials.json` (owner-only) for
 * other commands to use through $MVM_CREDENTIALS.
 */
export function secureLab (labDir: string, superDir: string): SecureLab {
  const policyFile = join(labDir, 'lab-secure-policy.yaml')
  writeFileSync(policyFile, POLICY)
  const password = randomBytes(18).toString('base64url')
  const usersFile = join(superDir, USERS_FILE)
  const users = readUsers(usersFile)
  addUser(users, LAB_USER, password)
  writeUsers(usersFile, users)
  const credentialsFile = join(labDir, 'credentials.json')
  writeFileSync(credentialsFile, JSON.stringify({ user: LAB_USER, password }) + '\n', { mode: 0o600 })
  return { policyFile, credentialsFile, credentials: { user: LAB_USER, password } }
}
