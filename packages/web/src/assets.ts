// Served as is: plain HTML/CSS and a small script, nothing fetched from outside the node.

export const PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MVM web view</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #12263f; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
table { border-collapse: collapse; } td, th { border-bottom: 1px solid #dde3ea; padding: 3px 10px; text-align: left; }
.state-running { color: #0a7d32; font-weight: bold; } .state-failed { color: #b00020; } .state-queued { color: #8a5a00; }
#status { color: #5a6b7f; } pre { background: #f4f7fb; padding: 8px; max-height: 20em; overflow: auto; }
.edge.busy { stroke: #d9480f; stroke-width: 3; }
#logs { font: 12px ui-monospace, monospace; background: #f4f7fb; padding: 8px; max-height: 24em; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
.log-rank { color: #5a6b7f; margin-right: 1ch; user-select: none; } .log-err { color: #b00020; } .log-note { color: #5a6b7f; font-style: italic; }
</style></head>
<body><h1>MVM web view</h1><div id="status">connecting…</div><div id="main"></div>
<script src="/ui/app.js"></script></body></html>
`

export const APP_JS = `'use strict'
const main = document.getElementById('main')
const status = document.getElementById('status')
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
const table = (cols, rows) => '<table><tr>' + cols.map((c) => '<th>' + esc(c) + '</th>').join('') + '</tr>' +
  rows.map((r) => '<tr>' + r.map((v) => '<td>' + v + '</td>').join('') + '</tr>').join('') + '</table>'
const jobId = new URLSearchParams(location.search).get('id')
const onJobPage = location.pathname.replace(/\\/+$/, '').endsWith('/job') && jobId

function overview (d) {
  main.innerHTML = '<h2>Nodes</h2><div id="nodes">' + table(['node', 'group', 'roles', 'state', 'load', 'slots', 'labels'],
    d.nodes.map((n) => [esc(n.peerId), esc(n.group + (n.viaChild ? ' (via ' + n.viaChild + ')' : '')), esc(n.roles.join(',')), esc(n.state),
      n.load.toFixed(2), (n.totalSlots - n.freeSlots) + '/' + n.totalSlots, esc(Object.entries(n.labels).map(([k, v]) => k + '=' + v).join(' '))])) +
    '</div><h2>Jobs</h2><div id="jobs">' + table(['job', 'name', 'state', 'owner', 'progress', 'reason'],
    d.jobs.map((j) => ['<a href="/ui/job?id=' + encodeURIComponent(j.jobId) + '">' + esc(j.jobId) + '</a>', esc(j.name),
      '<span class="job-state state-' + esc(j.state) + '" data-job="' + esc(j.jobId) + '">' + esc(j.state) + '</span>',
      esc(j.owner), j.ranksFinished + ' done, ' + j.ranksStarted + ' started of ' + j.size, esc(j.reason || '')])) +
    '</div><h2>Policy in force</h2><pre id="policy">' + esc(JSON.stringify(d.policy, null, 2)) + '</pre>'
}

function jobPage () {
  main.innerHTML = '<p><a href="/ui">all jobs</a></p><h2>Job ' + esc(jobId) + ' <span id="job-state"></span></h2><div id="job-info"></div>' +
    '<div id="topology"></div><h2>Traffic per port</h2><div id="traffic"></div>' +
    '<h2>Logs <small id="logs-state">connecting…</small></h2><div id="logs"></div>'
}

// Log text is the job's own output: it only ever becomes text nodes, never markup.
const MAX_LOG_LINES = 2000
function followLogs () {
  const box = document.getElementById('logs')
  const state = document.getElementById('logs-state')
  const add = (rank, stream, lines) => {
    const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4
    const frag = document.createDocumentFragment()
    for (const text of lines) {
      const line = document.createElement('div')
      line.className = 'log-line log-' + stream
      if (rank !== undefined) {
        line.dataset.rank = rank
        const tag = document.createElement('span')
        tag.className = 'log-rank'
        tag.textContent = 'r' + rank + (stream === 'err' ? ' err' : stream === 'out' ? ' out' : '')
        line.appendChild(tag)
      }
      line.appendChild(document.createTextNode(text))
      frag.appendChild(line)
    }
    box.appendChild(frag)
    while (box.childElementCount > MAX_LOG_LINES) box.firstElementChild.remove()
    if (atEnd) box.scrollTop = box.scrollHeight
  }
  const logs = new EventSource('/ui/events/logs?id=' + encodeURIComponent(jobId))
  // every connection starts over from the ranks' tails: a reconnect must not show lines twice
  logs.addEventListener('start', () => { box.replaceChildren(); state.textContent = 'live' })
  logs.addEventListener('log', (ev) => { const d = JSON.parse(ev.data); add(d.rank, d.stream, d.lines) })
  logs.addEventListener('notice', (ev) => { const d = JSON.parse(ev.data); add(d.rank, 'note', [d.message]) })
  logs.addEventListener('problem', (ev) => { state.textContent = JSON.parse(ev.data).message })
  logs.addEventListener('error', () => { if (logs.readyState !== EventSource.CLOSED) state.textContent = 'disconnected; retrying…' })
  logs.addEventListener('end', (ev) => {
    logs.close()
    const d = JSON.parse(ev.data)
    state.textContent = d.state ? 'complete: the job ' + d.state : 'ended'
    state.dataset.ended = 'true'
  })
}

function jobSnapshot (d) {
  const j = d.job
  document.getElementById('job-state').innerHTML = '<span class="job-state state-' + esc(j.state) + '">' + esc(j.state) + '</span>'
  document.getElementById('job-info').textContent = j.name + ' by ' + j.owner + ': ' + j.ranksFinished + ' of ' + j.size + ' ranks done' + (j.reason ? ' (' + j.reason + ')' : '')
  document.getElementById('traffic').innerHTML = table(['rank', 'port', 'items', 'bytes', 'items/s', 'bytes/s'],
    d.traffic.map((p) => [p.rank, esc(p.port), '<span class="items">' + p.items + '</span>', p.bytes, p.itemsPerSec.toFixed(1), p.bytesPerSec.toFixed(0)]))
  // an edge carries the traffic of both its ends' ports toward each other
  const svg = document.querySelector('#topology svg')
  if (!svg) return
  const perRank = new Map()
  for (const p of d.traffic) perRank.set(p.rank, (perRank.get(p.rank) || 0) + p.itemsPerSec)
  for (const label of svg.querySelectorAll('.traffic-label')) label.remove()
  for (const e of svg.querySelectorAll('[data-from][data-to]')) {
    const rate = (perRank.get(Number(e.dataset.from)) || 0) + (perRank.get(Number(e.dataset.to)) || 0)
    e.classList.toggle('busy', rate > 0)
    if (rate > 0 && e.getTotalLength) {
      const m = e.getPointAtLength(e.getTotalLength() / 2)
      const t = document.createElementNS('http://www.w3.org/2000/svg', 'text')
      t.setAttribute('x', m.x); t.setAttribute('y', m.y); t.setAttribute('class', 'traffic-label port')
      t.textContent = rate.toFixed(0) + '/s'
      e.parentNode.appendChild(t)
    }
  }
}

const es = new EventSource(onJobPage ? '/ui/events/job?id=' + encodeURIComponent(jobId) : '/ui/events')
if (onJobPage) { jobPage(); followLogs() }
es.addEventListener('open', () => { status.textContent = 'live' })
es.addEventListener('error', () => { status.textContent = 'disconnected; retrying…' })
es.addEventListener('problem', (ev) => { status.textContent = JSON.parse(ev.data).message })
es.addEventListener('topology', (ev) => { document.getElementById('topology').innerHTML = JSON.parse(ev.data).svg.replace(/^<\\?xml[^>]*>/, '') })
es.addEventListener('snapshot', (ev) => {
  const d = JSON.parse(ev.data)
  status.textContent = 'live, updated ' + new Date().toLocaleTimeString()
  if (onJobPage) jobSnapshot(d); else overview(d)
})
`
