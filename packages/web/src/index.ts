/**
 * @packageDocumentation
 * The live web view a super-peer serves next to SOAP at `/ui`: the group's nodes and jobs, the
 * policy in force, and one job's topology with each edge labelled by its live traffic, and its
 * ranks' stdout/stderr as they are written.
 * Updates are pushed by Server-Sent Events; nothing is loaded from outside the node.
 */
export { createWebView, type WebView, type WebViewInit } from './handler.js'
export type { WebSource, WebNode, WebJob, WebPortStats, WebRankLog, WebLogCursor } from './source.js'
